"""Containment: what a hostile or buggy command does stays inside the sandbox.

Each test asserts the host is unaffected and that the sandbox (or a fresh one) still works.
Network tests only ever target listeners this test opens on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from envs.rock import Sandbox

pytestmark = pytest.mark.slow


def host_is_fine() -> None:
    """The host can still fork, allocate and run programs."""
    assert subprocess.run(["true"], check=False).returncode == 0
    assert len(bytearray(64 * 1024 * 1024)) == 64 * 1024 * 1024
    assert Path("/etc/hostname").exists() and Path("/usr/bin/env").exists()


def test_fork_bomb_hits_pids_limit(make_sandbox: object) -> None:
    limit = 64
    sb: Sandbox = make_sandbox(pids_limit=limit)  # type: ignore[operator]
    sb.run(":(){ :|:& };:", timeout=5)
    time.sleep(2)
    # builtins only: the bomb may hold every pid the sandbox has
    count = sb.run("n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n", timeout=30)
    assert 0 < int(count.output.split()[-1]) <= limit
    host_is_fine()
    stop = sb.run(
        "for i in 1 2 3 4 5 6 7 8; do kill -9 -1 2>/dev/null; done; echo stopped", timeout=30
    )
    assert stop.output.endswith("stopped\n")
    assert sb.run("ls / >/dev/null && echo forks-again", timeout=30).output.endswith(
        "forks-again\n"
    )


def test_memory_bomb_is_oom_killed_with_clear_error(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox(memory_mb=128)  # type: ignore[operator]
    r = sb.run("python3 -c 'a = bytearray(1024 ** 3); print(len(a))'", timeout=60)
    assert r.oom_killed, r
    assert r.exit_code != 0 and "out of memory" in r.output and "memory_mb" in r.output
    host_is_fine()
    assert sb.run("echo alive", timeout=30).output.endswith("alive\n")


def test_rm_rf_root_stays_inside(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    sb.run("rm -rf --no-preserve-root / 2>/dev/null", timeout=60)
    host_is_fine()
    fresh: Sandbox = make_sandbox()  # type: ignore[operator]
    assert fresh.run("ls /usr/bin/python3 && echo intact").output.endswith("intact\n")


def test_infinite_loop_is_stopped(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox(cpus=0.5)  # type: ignore[operator]
    r = sb.run("while :; do :; done", timeout=1)
    assert r.timed_out
    host_is_fine()
    assert sb.run("echo after").output == "after\n"


@pytest.fixture()
def host_listener() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that counts connections; yields its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()
    assert not accepted, "a sandbox with network 'none' reached the host's listener"


def test_network_none_cannot_reach_host_listener(make_sandbox: object, host_listener: int) -> None:
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    probe = (
        "python3 - <<'EOF'\n"
        "import socket\n"
        "s = socket.socket(); s.settimeout(2)\n"
        f"print('connect', s.connect_ex(('127.0.0.1', {host_listener})))\n"
        "EOF\n"
        "ls /sys/class/net"
    )
    r = sb.run(probe, timeout=30)
    assert "connect 0" not in r.output
    assert r.output.split("\n", 1)[1].split() == ["lo"]
    host_is_fine()
    assert os.getpid() > 0
