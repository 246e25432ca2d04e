"""Checks for log-retention-script: behaviour on fixtures, cron entry, directory ownership."""

import grp
import gzip
import os
import pwd
import stat
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = "/usr/local/bin/rotate-app-logs"
DAY = 86400


def make(path, age_days, content=b"line\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    t = time.time() - age_days * DAY
    os.utime(path, (t, t))
    return t


def conf(tmp_path, log_dir, **over):
    values = {"LOG_DIR": str(log_dir), "COMPRESS_AFTER_DAYS": "1", "DELETE_AFTER_DAYS": "14",
              "MAX_TOTAL_KB": "51200"} | over
    text = "# test policy\n\n" + "".join(f"{k}={v}\n" for k, v in values.items() if v is not None)
    path = tmp_path / "retention.conf"
    path.write_text(text)
    return path


def run(conf_path):
    env = dict(os.environ, RETENTION_CONF=str(conf_path))
    return subprocess.run([SCRIPT], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def logs(tmp_path):
    d = tmp_path / "log dir"
    times = {
        "web/access.log": make(d / "web/access.log", 3, b"GET /\n" * 100),
        "web/access.log.1": make(d / "web/access.log.1", 2.5, b"GET /old\n" * 50),
        "web/error.log": make(d / "web/error.log", 0.05),
        "worker.log": make(d / "worker.log", 0.9),
        "file with space.log": make(d / "file with space.log", 4, b"spaced\n"),
        "old/archive.log.gz": make(d / "old/archive.log.gz", 20, gzip.compress(b"a\n")),
        "old/recent.log.gz": make(d / "old/recent.log.gz", 3, gzip.compress(b"r\n")),
        "notes.txt": make(d / "notes.txt", 30),
        "data.log.bak": make(d / "data.log.bak", 5),
        "app.log.1.tmp": make(d / "app.log.1.tmp", 5),
    }
    outside = make(tmp_path / "outside.log", 9)
    os.symlink(d / "web/error.log", d / "current.log")
    os.symlink(tmp_path / "outside.log", d / "linked-outside.log")
    return d, times, outside


def test_executable():
    st = os.stat(SCRIPT)
    assert st.st_mode & stat.S_IXUSR


def test_compress_and_delete(tmp_path, logs):
    d, times, _ = logs
    proc = run(conf(tmp_path, d))
    assert proc.returncode == 0, proc.stderr
    files = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file() or p.is_symlink())
    assert files == sorted([
        "web/access.log.gz", "web/access.log.1.gz", "web/error.log", "worker.log",
        "file with space.log.gz", "old/recent.log.gz", "notes.txt", "data.log.bak",
        "app.log.1.tmp", "current.log", "linked-outside.log"])
    assert gzip.decompress((d / "web/access.log.gz").read_bytes()) == b"GET /\n" * 100
    assert gzip.decompress((d / "file with space.log.gz").read_bytes()) == b"spaced\n"
    for name in ("web/access.log", "web/access.log.1", "file with space.log"):
        assert abs((d / (name + ".gz")).stat().st_mtime - times[name]) < 2, name
    out = set(proc.stdout.splitlines())
    assert {f"compressed {d / 'web/access.log'}", f"compressed {d / 'web/access.log.1'}",
            f"compressed {d / 'file with space.log'}", f"deleted {d / 'old/archive.log.gz'}"} <= out
    assert len(out) == 4, proc.stdout


def test_symlinks_not_followed(tmp_path, logs):
    d, _, outside = logs
    assert run(conf(tmp_path, d)).returncode == 0
    assert (tmp_path / "outside.log").is_file()
    assert abs((tmp_path / "outside.log").stat().st_mtime - outside) < 2
    assert (d / "current.log").is_symlink()


def test_idempotent(tmp_path, logs):
    d, _, _ = logs
    assert run(conf(tmp_path, d)).returncode == 0
    snapshot = sorted((str(p), p.stat().st_size) for p in d.rglob("*") if p.is_file())
    proc = run(conf(tmp_path, d))
    assert proc.returncode == 0
    assert proc.stdout.strip() == ""
    assert sorted((str(p), p.stat().st_size) for p in d.rglob("*") if p.is_file()) == snapshot


def test_size_cap_deletes_oldest_compressed(tmp_path):
    d = tmp_path / "capped"
    big = os.urandom(300 * 1024)  # incompressible
    make(d / "a.log.gz", 5, big)
    make(d / "b.log.gz", 4, big)
    make(d / "c.log.gz", 3, big)
    make(d / "live.log", 0.1, big)
    proc = run(conf(tmp_path, d, MAX_TOTAL_KB="700"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in d.iterdir()) == ["c.log.gz", "live.log"]
    assert proc.stdout.splitlines() == [f"deleted {d / 'a.log.gz'}", f"deleted {d / 'b.log.gz'}"]


def test_config_is_not_executed(tmp_path, logs):
    d, _, _ = logs
    marker = tmp_path / "pwned"
    path = conf(tmp_path, d)
    path.write_text(path.read_text() + f"EXTRA=$(touch {marker})\n`touch {marker}`\n")
    run(path)
    assert not marker.exists()


@pytest.mark.parametrize("bad", ["missing_key", "missing_dir"])
def test_bad_config_changes_nothing(tmp_path, logs, bad):
    d, _, _ = logs
    path = conf(tmp_path, d, DELETE_AFTER_DAYS=None) if bad == "missing_key" else \
        conf(tmp_path, tmp_path / "nope")
    before = sorted(str(p) for p in d.rglob("*"))
    proc = run(path)
    assert proc.returncode == 1
    assert proc.stderr.strip()
    assert sorted(str(p) for p in d.rglob("*")) == before


def test_cron_entry():
    path = Path("/etc/cron.d/app-logs")
    st = path.stat()
    assert st.st_uid == 0 and not st.st_mode & 0o022, "cron ignores group/other-writable files"
    entries = [ln.split() for ln in path.read_text().splitlines()
               if ln.strip() and not ln.lstrip().startswith("#") and "=" not in ln.split()[0]]
    assert len(entries) == 1, entries
    fields = entries[0]
    assert fields[:6] == ["17", "3", "*", "*", "*", "root"], fields
    assert fields[6] == SCRIPT


def test_log_dir_ownership():
    st = os.stat("/var/log/app")
    assert pwd.getpwuid(st.st_uid).pw_name == "app"
    assert grp.getgrgid(st.st_gid).gr_name == "app"
    assert stat.S_IMODE(st.st_mode) == 0o750
