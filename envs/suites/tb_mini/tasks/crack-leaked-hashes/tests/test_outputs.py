"""Checks for crack-leaked-hashes: recovered passwords verify, nothing missed, reports right."""

import csv
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).parent
INC = Path("/app/incident")
EXPECTED = json.loads((HERE / "expected.json").read_text())


def _dump():
    with open(INC / "users_dump.csv", newline="") as f:
        return {r["username"]: r["password_hash"] for r in csv.DictReader(f)}


def _verify(stored, password):
    algo = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(stored))
    if algo is None or stored.startswith("$"):
        return False
    return hashlib.new(algo, password.encode()).hexdigest() == stored.lower()


def test_inputs_untouched():
    expected = json.loads((HERE / "incident_sha256.json").read_text())
    for name, digest in expected.items():
        assert hashlib.sha256((INC / name).read_bytes()).hexdigest() == digest, name


def test_cracked_passwords_verify():
    dump = _dump()
    with open(INC / "cracked.csv", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["username", "password"]
        rows = [r for r in reader if r]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows), "not sorted by username"
    for user, password in rows:
        assert _verify(dump[user], password), f"wrong password for {user}"


def test_all_crackable_accounts_recovered():
    with open(INC / "cracked.csv", newline="") as f:
        users = {r["username"] for r in csv.DictReader(f)}
    assert users == set(EXPECTED["cracked"])


def test_force_reset_list():
    lines = [ln.strip() for ln in (INC / "force_reset.txt").read_text().splitlines() if ln.strip()]
    assert lines == EXPECTED["unsalted"]


def test_report():
    report = json.loads((INC / "report.json").read_text())
    assert report["cracked"] == len(EXPECTED["cracked"])
    assert report["uncracked"] == sorted(set(EXPECTED["all"]) - set(EXPECTED["cracked"]))
    assert report["algorithms"] == EXPECTED["algorithms"]
