"""Containment: what a hostile or buggy command does stays inside the sandbox.

Each test asserts the host is unaffected and that the sandbox (or a fresh one) still works.
Network tests only ever target listeners this test opens on a host address (docker's bridge
gateway): one a sandbox with a network reaches, which the test shows with a control sandbox.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from envs.rock import Sandbox
from envs.rock.policy import NetworkPolicy, SandboxPolicy

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


def host_address() -> str:
    """An IPv4 address of this host that a sandbox *with* a network reaches: the gateway of
    docker's default bridge (docker0), else the host's source address on its default route.
    (127.0.0.1 would not do: inside a network namespace it is the sandbox's own loopback.)"""
    bridge = subprocess.run(
        ["ip", "-j", "-4", "addr", "show", "dev", "docker0"], capture_output=True, text=True
    )
    if bridge.returncode == 0 and json.loads(bridge.stdout or "[]"):
        return str(json.loads(bridge.stdout)[0]["addr_info"][0]["local"])
    out = subprocess.run(
        ["ip", "-j", "-4", "route", "get", "192.0.2.1"], capture_output=True, text=True, check=True
    )
    return str(json.loads(out.stdout)[0]["prefsrc"])


@dataclass
class Listener:
    """A TCP listener this test opened on a host address; `accepted` is set on a connection."""

    address: str
    port: int
    accepted: threading.Event


@pytest.fixture()
def host_listener() -> Iterator[Listener]:
    srv = socket.socket()
    srv.bind((host_address(), 0))
    srv.listen(8)
    srv.settimeout(0.2)
    accepted = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.set()
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    address, port = srv.getsockname()
    yield Listener(address, port, accepted)
    stop.set()
    t.join()
    srv.close()


def probe(sb: Sandbox, target: Listener) -> tuple[int, list[str]]:
    """(connect_ex errno towards `target` from inside `sb`, the sandbox's interfaces)."""
    r = sb.run(
        "python3 - <<'EOF'\n"
        "import socket\n"
        "s = socket.socket(); s.settimeout(5)\n"
        f"print(s.connect_ex(({target.address!r}, {target.port})))\n"
        "EOF\n"
        "ls /sys/class/net",
        timeout=60,
    )
    first, _, rest = r.output.partition("\n")
    return int(first), rest.split()


def probe_via_proxy(sb: Sandbox, target: Listener) -> str:
    """The egress proxy's answer to a CONNECT towards `target` from inside `sb`."""
    r = sb.run(
        "python3 - <<'EOF'\n"
        "import socket\n"
        "s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
        f"s.sendall(b'CONNECT {target.address}:{target.port} HTTP/1.1\\r\\n\\r\\n')\n"
        "print(s.recv(100).split(b'\\r\\n')[0].decode())\n"
        "EOF",
        timeout=60,
    )
    return r.output


def test_network_none_cannot_reach_host_listener(
    make_sandbox: object, host_listener: Listener
) -> None:
    # the probe can fail: with a network (an allowlist naming it), the listener is reached
    rule = f"{host_listener.address}:{host_listener.port}"
    wired: Sandbox = make_sandbox(  # type: ignore[operator]
        policy=SandboxPolicy(network=NetworkPolicy("allowlist", (rule,)))
    )
    answer = probe_via_proxy(wired, host_listener)
    assert "200" in answer and host_listener.accepted.wait(30), f"control probe: {answer}"
    host_listener.accepted.clear()

    sb: Sandbox = make_sandbox()  # type: ignore[operator]  (network "none", the default)
    errno_none, interfaces = probe(sb, host_listener)
    assert interfaces == ["lo"]
    # expected failure: ENETUNREACH, no route at all (not a refusal or a timeout somewhere)
    assert errno_none == errno.ENETUNREACH, os.strerror(errno_none)
    assert not host_listener.accepted.is_set(), "a sandbox with network 'none' reached the host"
    host_is_fine()


def test_pid1_ignores_every_signal_from_inside(make_sandbox: object) -> None:
    """`kill -SIG 1` for every signal (TERM, HUP, INT, USR1, ALRM, ... realtime ones) from
    inside leaves the sandbox running (issue 13, item 1)."""
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    r = sb.run(
        "for s in $(seq 1 31) $(seq 34 64); do kill -$s 1 2>/dev/null; done; "
        "sleep 0.5; echo still-here",
        timeout=60,
    )
    assert r.output.endswith("still-here\n"), r.output
    assert sb.alive()
    assert sb.run("echo alive", session="fresh").output == "alive\n"
    if getattr(sb, "files_via", "host") == "host" and may_lower_oom_score():
        assert sb.run("cat /proc/1/oom_score_adj").output == "-1000\n"  # the OOM killer spares it


def may_lower_oom_score() -> bool:
    """Whether this process has CAP_SYS_RESOURCE (needed to set a negative oom_score_adj)."""
    eff = next(x for x in Path("/proc/self/status").read_text().splitlines() if x[:7] == "CapEff:")
    return bool(int(eff.split()[1], 16) >> 24 & 1)


SYSCALL_PROBE = r"""python3 - <<'PY'
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": dict(add_key=248, keyctl=250, bpf=321, perf=298),
      "aarch64": dict(add_key=217, keyctl=219, bpf=280, perf=241)}[os.uname().machine]
def err(r): return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
print("add_key", err(libc.syscall(nr["add_key"], b"user", b"TOKEN", b"x", 1, ctypes.c_int(-4))))
print("keyctl", err(libc.syscall(nr["keyctl"], 0, ctypes.c_int(-4), 0)))
print("bpf", err(libc.syscall(nr["bpf"], 0, 0, 0)))
print("perf_event_open", err(libc.syscall(nr["perf"], 0, 0, -1, -1, 0)))
print("unshare_user", err(libc.unshare(0x10000000)))
print("mount", err(libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)))
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", os.waitpid(pid, 0)[1] >> 8)
PY"""


def test_syscall_filter_refuses_keyrings_bpf_and_namespaces(make_sandbox: object) -> None:
    """Docker's default seccomp profile, and the local backend's own filter (issue 13, item 5):
    `add_key` into the kernel keyring (uid 0 shares root's keyring with the host without a user
    namespace), `bpf`, `perf_event_open`, a new user namespace, `mount` all fail with EPERM."""
    import secrets

    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    token = f"ale-{secrets.token_hex(6)}"
    out = sb.run(SYSCALL_PROBE.replace("TOKEN", token), timeout=60).output
    got = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert got == {
        "add_key": "EPERM",
        "keyctl": "EPERM",
        "bpf": "EPERM",
        "perf_event_open": "EPERM",
        "unshare_user": "EPERM",
        "mount": "EPERM",
        "fork": "7",  # ordinary processes still start
    }, out
    assert token not in Path("/proc/keys").read_text()
