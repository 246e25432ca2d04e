"""Orphans, TTL and the `ale sandbox` CLI: a killed driver leaves nothing running after gc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from envs.rock import SandboxSpec
from envs.rock.api import LABEL_OWNER_PID
from envs.rock.factory import create_sandbox
from envs.rock.gc import list_all
from tests.conftest import REPO

pytestmark = pytest.mark.slow

DRIVER = """
import sys, time
from envs.rock import SandboxSpec
from envs.rock.factory import create_sandbox
boxes = [create_sandbox(SandboxSpec(labels={"ale.test": "sigkill"}), sys.argv[1]) for _ in range(2)]
boxes[0].run("cd /tmp && sleep 0.1")
print(" ".join(b.id for b in boxes), flush=True)
boxes[1].run("sleep 600", timeout=900)  # mid-command when killed
"""


def ale(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `ale` CLI as a user would (module form: works before `pip install`)."""
    return subprocess.run(
        [sys.executable, "-m", "bench.cli.main", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=check,
    )


def ids_alive(ids: list[str]) -> list[str]:
    ours = [r.id for r in list_all()]
    return [i for i in ids if any(o.startswith(i) or i.startswith(o) for o in ours)]


def test_driver_sigkill_then_gc_leaves_nothing(backend: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, backend], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ids = proc.stdout.readline().split()
    assert len(ids) == 2, "driver did not start its sandboxes"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ids_alive(ids) == ids  # still running: nobody closed them
    # gc scoped to the killed driver: touches nothing of another process or test session
    out = ale("sandbox", "gc", "--owner", str(proc.pid))
    listed = [line.split("\t")[1] for line in out.stdout.splitlines()]
    assert f"removed {len(listed)} sandbox(es)" in out.stderr, out.stderr
    assert set(listed) <= set(ids), "gc --owner removed a sandbox the driver did not own"
    # another user's unscoped gc may collect these orphans first: then gc does not list them,
    # but they must be gone all the same
    assert ids_alive(ids) == []
    left = [r for r in list_all() if r.labels.get(LABEL_OWNER_PID) == str(proc.pid)]
    assert not left, f"gc left the driver's sandboxes: {left}"


def test_ttl_ends_sandbox_without_any_driver(backend: str) -> None:
    sb = create_sandbox(SandboxSpec(ttl_s=3), backend)
    try:
        sb.run("kill -9 -1; pkill -9 sleep; true", timeout=10)  # cannot stop the TTL clock
        deadline = time.monotonic() + 30
        while sb.alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not sb.alive()
    finally:
        sb.close()


def test_cli_create_exec_ls_rm(backend: str) -> None:
    sid = ale("sandbox", "create", "--backend", backend, "--ttl", "300").stdout.strip()
    try:
        run = ale(
            "sandbox", "exec", sid, "echo hello from $(hostname | cut -c1-4); exit 7", check=False
        )
        assert run.returncode == 7 and run.stdout.startswith("hello from")
        listing = ale("sandbox", "ls").stdout
        assert sid[:12] in listing and backend in listing
        # detached (owner pid 0): its creator (the CLI) is gone, yet gc keeps it until its TTL
        ale("sandbox", "gc", "--owner", "0")
        assert ids_alive([sid]) == [sid]
    finally:
        ale("sandbox", "rm", sid)
    assert ids_alive([sid]) == []
    missing = ale("sandbox", "exec", "nonexistent0", "true", check=False)
    assert missing.returncode == 2 and "ale sandbox ls" in missing.stderr
