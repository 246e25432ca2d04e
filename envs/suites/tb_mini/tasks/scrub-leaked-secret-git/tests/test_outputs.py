"""Checks for scrub-leaked-secret-git: leaks identified, history rewritten, objects purged."""

import json
import subprocess
from pathlib import Path

REPO = Path("/app/payments-service")
STRIPE = "sk_live_51NqT8bE4xKp2VwZr7Yd3Lm9Hs0Jc6Fa1Ug5Ri8Ot2Wn4Qb7Xe"
DBPASS = "Tr0ub4dor&3-prod!"
TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
MAIN_TREE = "015429ed104e87907853ae4c3b88613aa531082e"
HISTORY = {
    "main": [
        "Dana Kim|dana@corp.example|2024-02-01T13:00:00+01:00|Bump stripe to 7.9.0",
        "Priya Nair|priya@corp.example|2024-01-23T09:45:00+01:00|Add tests for refunds",
        "Priya Nair|priya@corp.example|2024-01-22T11:30:00+01:00|Read secrets from environment",
        "Dana Kim|dana@corp.example|2024-01-15T16:20:00+01:00|Add refund endpoint",
        "Luis Ortega|luis@corp.example|2024-01-11T10:05:00+01:00|Add docker-compose for local dev",
        "Dana Kim|dana@corp.example|2024-01-09T14:40:00+01:00|Add Stripe client wrapper",
        "Dana Kim|dana@corp.example|2024-01-08T09:12:00+01:00|Initial commit: service skeleton",
    ],
    "release/1.x": [
        "Luis Ortega|luis@corp.example|2024-01-24T08:10:00+01:00|Hotfix: longer Stripe timeout",
        "Dana Kim|dana@corp.example|2024-01-15T16:20:00+01:00|Add refund endpoint",
        "Luis Ortega|luis@corp.example|2024-01-11T10:05:00+01:00|Add docker-compose for local dev",
        "Dana Kim|dana@corp.example|2024-01-09T14:40:00+01:00|Add Stripe client wrapper",
        "Dana Kim|dana@corp.example|2024-01-08T09:12:00+01:00|Initial commit: service skeleton",
    ],
}


def git(*args, binary=False):
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout if binary else proc.stdout.decode()


def test_leaks_identified():
    leaks = json.loads(Path("/app/leaks.json").read_text())
    assert leaks["stripe_key"] == STRIPE
    assert leaks["db_password"] == DBPASS


def test_refs_preserved():
    """Same branches and tags, no backup refs, no stash; v1.0 still annotated."""
    refs = set(git("for-each-ref", "--format=%(refname)").split())
    assert refs == {"refs/heads/main", "refs/heads/release/1.x", "refs/tags/v1.0"}
    assert git("cat-file", "-t", "v1.0").strip() == "tag"
    assert git("log", "-1", "--format=%s", "v1.0^{commit}").strip() == "Add refund endpoint"


def test_history_metadata_preserved():
    for branch, expected in HISTORY.items():
        log = git("log", "--format=%an|%ae|%aI|%s", branch).splitlines()
        assert log == expected, branch


def test_values_replaced_in_old_commits():
    settings = git("show", "v1.0:config/settings.py")
    assert 'STRIPE_API_KEY = "***REMOVED***"' in settings
    env = git("show", "v1.0:.env")
    assert "DB_PASSWORD=***REMOVED***" in env
    assert "POSTGRES_PASSWORD=***REMOVED***" in env
    assert "STRIPE_API_KEY=***REMOVED***" in env
    hotfix = git("show", "release/1.x:config/settings.py")
    assert 'STRIPE_API_KEY = "***REMOVED***"' in hotfix and "TIMEOUT_SECONDS = 30" in hotfix


def test_head_content_unchanged():
    """main's tree had no secret, so it must be bit-for-bit the same tree as before."""
    assert git("rev-parse", "main^{tree}").strip() == MAIN_TREE
    assert TEST_KEY in git("show", "main:tests/test_refunds.py")


def test_no_object_contains_secrets():
    """Every object in the database, reachable or not, is free of both values."""
    blob = git("cat-file", "--batch-all-objects", "--batch", binary=True)
    assert len(blob) > 1000
    assert STRIPE.encode() not in blob
    assert DBPASS.encode() not in blob


def test_no_file_under_git_dir_contains_secrets():
    for path in (REPO / ".git").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert STRIPE.encode() not in data and DBPASS.encode() not in data, path


def test_repository_healthy_and_clean():
    subprocess.run(["git", "-C", str(REPO), "fsck", "--full", "--no-dangling"], check=True,
                   capture_output=True, timeout=60)
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git("status", "--porcelain").strip() == ""
    for path in REPO.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            data = path.read_bytes()
            assert STRIPE.encode() not in data and DBPASS.encode() not in data, path
