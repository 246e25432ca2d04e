"""Egress control for sandboxes: an allowlist proxy and DNS reached from inside the sandbox.

Both backends give an `allowlist` sandbox a network namespace with nothing but loopback (no
route out: a direct connection fails at once with "Network is unreachable"). `start_egress`
binds two sockets *inside* that namespace from the host, `127.0.0.1:3128` (HTTP proxy) and
`127.0.0.1:53` (DNS), and hands them to a host-side helper process (`helper.py`) that decides
each attempt by the allowlist (`rules.py`), connects out from the host, and writes the audit
log (`audit.py`). The shell gets the proxy settings (`proxy_env`); `/etc/resolv.conf` names
the DNS socket (`RESOLV_CONF`). The local backend's `open` mode is the same proxy allowing
everything but the host's own addresses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envs.rock.egress.netns import bind_in_netns
from envs.rock.errors import SandboxDead, SandboxError

if TYPE_CHECKING:
    from envs.rock.api import Sandbox
    from envs.rock.policy import NetworkPolicy

PROXY_PORT = 3128
DNS_PORT = 53
PROXY_URL = f"http://127.0.0.1:{PROXY_PORT}"
#: The Python package index (what `pip install` needs), for opt-in grading installs.
PACKAGE_INDEX = ("pypi.org", "files.pythonhosted.org")
RESOLV_CONF = (
    b"# ale egress: names resolve only when the policy allows them\nnameserver 127.0.0.1\n"
)
REPO = Path(__file__).resolve().parents[3]
#: Imports the helper without `envs/__init__` (which registers every Gymnasium env).
_BOOT = (
    "import sys, types\n"
    "root = sys.argv[1]\n"
    "for name in ('envs', 'envs.rock', 'envs.rock.egress'):\n"
    "    m = types.ModuleType(name); m.__path__ = [root + '/' + name.replace('.', '/')]\n"
    "    sys.modules[name] = m\n"
    "from envs.rock.egress.helper import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def rules_path(audit_path: Path) -> Path:
    """Where `set_rules` puts a running helper's new allowlist (next to its audit log)."""
    return audit_path.with_suffix(".rules")


def change_allowlist(
    sandbox_id: str, mode: str, audit_path: Path, rules: Sequence[str], timeout: float = 10.0
) -> None:
    """`Sandbox.set_allowlist` of both backends: `set_rules`, for `allowlist` sandboxes only."""
    if mode != "allowlist":
        from envs.rock.policy import SandboxPolicyError

        raise SandboxPolicyError(
            f"sandbox {sandbox_id} has network {mode!r}; only a sandbox created with network "
            "'allowlist' (an empty allow list will do) can change its allowlist"
        )
    set_rules(audit_path, tuple(rules), timeout)


def set_rules(audit_path: Path, rules: Sequence[str], timeout: float = 10.0) -> None:
    """Replace the allowlist of the helper writing `audit_path`; returns once it applies it.

    `rules` are parsed first (`SandboxPolicyError` names a bad one); `SandboxError` if the helper does
    not acknowledge within `timeout` seconds (it is gone: the sandbox ended).
    """
    from envs.rock.policy import NetworkPolicy

    NetworkPolicy("allowlist", tuple(rules))  # validates every rule
    path = rules_path(audit_path)
    version = time.time_ns()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "allow": list(rules)}))
    os.replace(tmp, path)
    ack = path.with_suffix(".ack")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if int(ack.read_text()) == version:
                return
        time.sleep(0.02)
    raise SandboxError(
        f"the egress helper of {audit_path.stem} did not take the new allowlist within "
        f"{timeout:.0f} s (is the sandbox still running?)"
    )


@contextmanager
def allowed_while(sandbox: Sandbox, extra: Sequence[str]) -> Iterator[None]:
    """Inside the block, `sandbox` may also reach `extra` (e.g. `PACKAGE_INDEX` while a grading
    install runs); after it, only its spec's rules again. Nothing happens for an empty `extra`."""
    if not extra:
        yield
        return
    base = list(sandbox.spec.policy.network.allow)
    sandbox.set_allowlist([*base, *extra])
    try:
        yield
    finally:
        with contextlib.suppress(SandboxError):  # a dead sandbox has no egress left to close
            sandbox.set_allowlist(base)


def proxy_env() -> dict[str, str]:
    """What the sandbox's shells get so that curl, pip, git, npm, ... use the proxy."""
    env = {
        "NO_PROXY": "localhost,127.0.0.1,::1",
        "PIP_PROXY": PROXY_URL,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.proxy",
        "GIT_CONFIG_VALUE_0": PROXY_URL,
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = PROXY_URL
    env["no_proxy"] = env["NO_PROXY"]
    return env


def allow_rules(network: NetworkPolicy) -> list[str]:
    """The rules the proxy enforces: the allowlist, or everything for `open`."""
    return list(network.allow) if network.mode == "allowlist" else ["*:*"]


@dataclass
class EgressHandle:
    """The running helper of one sandbox (`stop` ends it; it also ends with the sandbox)."""

    proc: subprocess.Popen[bytes]
    audit_path: Path

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 2 s. Safe to call twice."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_egress(
    init_pid: int, sandbox_id: str, network: NetworkPolicy, audit_path: Path
) -> EgressHandle:
    """Serve the proxy and DNS inside the network namespace of `init_pid` until it exits.

    Refuses (`SandboxError`) to serve in this process's own namespace: the sandbox must have
    its own. The sockets exist when this returns, so a shell started next finds them.
    """
    try:
        pidfd = os.pidfd_open(init_pid)
    except OSError as exc:
        raise SandboxDead(f"sandbox {sandbox_id}: its init {init_pid} is gone ({exc})") from exc
    nsfd = -1
    socks: tuple[socket.socket, ...] = ()
    try:
        try:
            nsfd = os.open(f"/proc/{init_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            signal.pidfd_send_signal(pidfd, 0)  # alive after the open: the ns is the init's
        except OSError as exc:
            raise SandboxDead(f"sandbox {sandbox_id}: its init is gone ({exc})") from exc
        if os.fstat(nsfd).st_ino == os.stat("/proc/self/ns/net").st_ino:
            raise SandboxError(
                f"sandbox {sandbox_id} shares the host's network namespace; egress control "
                "needs its own (this is a bug in the backend)"
            )
        try:
            socks = bind_in_netns(nsfd, PROXY_PORT, DNS_PORT)
        except OSError as exc:
            raise SandboxError(
                f"cannot open the egress proxy inside sandbox {sandbox_id}: {exc}. The host "
                "must let root enter network namespaces (setns)."
            ) from exc
        tcp, udp = socks[0], socks[1]
        config = {
            "allow": allow_rules(network),
            "audit": str(audit_path),
            "rules": str(rules_path(audit_path)),
            "sandbox": sandbox_id,
            "tcp_fd": tcp.fileno(),
            "udp_fd": udp.fileno(),
            "pidfd": pidfd,
        }
        audit_path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (rules_path(audit_path), rules_path(audit_path).with_suffix(".ack")):
            stale.unlink(missing_ok=True)  # an earlier helper's (restore): the spec's rules again
        with open(audit_path.with_suffix(".log"), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(REPO), json.dumps(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(tcp.fileno(), udp.fileno(), pidfd),
                start_new_session=True,
                cwd="/",
            )
        return EgressHandle(proc, audit_path)
    finally:
        for s in socks:
            s.close()
        if nsfd >= 0:
            os.close(nsfd)
        os.close(pidfd)
