"""Checks for backup-rotation-fix: the script follows its own specification."""

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

SCRIPT = "/app/bin/backup.sh"


def run(*args, cwd=None, stamp=None):
    env = dict(os.environ)
    env.pop("BACKUP_TIMESTAMP", None)
    if stamp:
        env["BACKUP_TIMESTAMP"] = stamp
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)


def members(archive):
    with tarfile.open(archive) as tf:
        return sorted(m.name.rstrip("/") for m in tf.getmembers() if not m.isdir())


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "my project [v2]"
    (src / "src").mkdir(parents=True)
    (src / "src" / "main.py").write_text("print(1)\n")
    (src / "notes file.txt").write_text("x\n")
    (src / "build.log").write_text("log\n")
    (src / "cache").mkdir()
    (src / "cache" / "blob.bin").write_text("b\n")
    (src / ".backupignore").write_text("# caches\ncache\n\n*.log\n")
    dest = tmp_path / "backup target"
    dest.mkdir()
    # a working directory whose files would be matched by unquoted globs
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "decoy.log").write_text("")
    return src, dest, cwd


def test_snapshot_of_shop_data_exists():
    """The agent made a snapshot of /srv/shop data in /backups with the right content."""
    archives = sorted(Path("/backups").glob("shop data-*.tar.gz"))
    assert archives, "no snapshot of '/srv/shop data' in /backups"
    assert members(archives[-1]) == sorted([
        "shop data/.backupignore", "shop data/orders.csv", "shop data/uploads/invoice 2024-03.pdf"])


def test_spaces_globs_and_ignore_file(tree):
    src, dest, cwd = tree
    proc = run(str(src), str(dest), "3", cwd=cwd, stamp="20240301-020000")
    assert proc.returncode == 0, proc.stderr
    archive = dest / "my project [v2]-20240301-020000.tar.gz"
    assert proc.stdout.strip() == str(archive)
    assert archive.is_file()
    assert members(archive) == sorted([
        "my project [v2]/.backupignore", "my project [v2]/notes file.txt",
        "my project [v2]/src/main.py"])


def test_default_timestamp_format(tree):
    src, dest, cwd = tree
    proc = run(str(src), str(dest), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    out = Path(proc.stdout.strip())
    assert out.parent == dest and out.is_file()
    stamp = out.name[len("my project [v2]-"):-len(".tar.gz")]
    assert len(stamp) == 15 and stamp[8] == "-" and (stamp[:8] + stamp[9:]).isdigit(), stamp


def test_rotation_by_name_timestamp(tree):
    """Keeps the KEEP newest by file-name timestamp, whatever the mtimes; others untouched."""
    src, dest, cwd = tree
    name = src.name
    old = [f"{name}-2024020{d}-010000.tar.gz" for d in range(1, 7)]
    for i, fname in enumerate(old):
        p = dest / fname
        p.write_bytes(b"old")
        os.utime(p, (2_000_000_000 - i * 1000, 2_000_000_000 - i * 1000))  # older name, newer mtime
    others = [f"{name}-extra-20240101-000000.tar.gz", "my project-20240101-000000.tar.gz",
              "README.txt", f"{name}-20240101-000000.tar.gz.partial"]
    for fname in others:
        (dest / fname).write_text("keep me")
    proc = run(str(src), str(dest), "3", cwd=cwd, stamp="20240301-020000")
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in dest.iterdir())
    assert left == sorted(others + [old[4], old[5], f"{name}-20240301-020000.tar.gz"])


def test_missing_source_deletes_nothing(tree):
    _, dest, cwd = tree
    for d in range(1, 4):
        (dest / f"gone-2024020{d}-010000.tar.gz").write_bytes(b"old")
    before = sorted(p.name for p in dest.iterdir())
    proc = run(str(dest.parent / "gone"), str(dest), "1", cwd=cwd, stamp="20240301-020000")
    assert proc.returncode != 0
    assert sorted(p.name for p in dest.iterdir()) == before


@pytest.mark.parametrize("keep", ["0", "-2", "abc", "3x"])
def test_invalid_keep_rejected(tree, keep):
    src, dest, cwd = tree
    (dest / f"{src.name}-20240201-010000.tar.gz").write_bytes(b"old")
    proc = run(str(src), str(dest), keep, cwd=cwd, stamp="20240301-020000")
    assert proc.returncode != 0
    assert sorted(p.name for p in dest.iterdir()) == [f"{src.name}-20240201-010000.tar.gz"]
