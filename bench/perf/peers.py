"""Peers for the step-latency table: other ways to run one command in a container.

Each peer runs a command and returns (seconds of its own call, the command's output); a peer
that cannot run raises `PeerSkipped` with the reason, which the table prints ('skipped: ...').

* `RawExec`: the docker SDK's `exec_run(["bash", "-c", CMD])` per command (raw `docker exec`).
* `MiniSweExec`: mini-swe-agent's docker environment: a `docker exec -w DIR CID bash -lc CMD`
  subprocess per command (`minisweagent/environments/docker.py`).
* `SweRexPeer`: SWE-ReX (`pip install swe-rex`), a persistent shell behind an HTTP server:
  `swerex-remote` runs inside its own container of the same image (host network, a free
  loopback port; the venv and its Python are mounted read-only from the host), and its `RemoteRuntime` client runs
  in a worker process of that venv (`run_in_session(BashAction(...))`), timing each call.
  The venv is created once under `~/.cache/ale-gym/peers/swerex` from the package index.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VENV = (
    Path(os.environ.get("ALE_PEERS_DIR", Path.home() / ".cache" / "ale-gym" / "peers")) / "swerex"
)
LABEL = "ale.bench.peer"
#: swe-rex's RemoteRuntime imports aiohttp without declaring it
PACKAGES = ("swe-rex", "aiohttp")


class PeerSkipped(RuntimeError):
    """The peer cannot run here; the message says why."""


class RawExec:
    """Raw `docker exec` through the docker SDK, one exec per command."""

    name = "raw docker exec (SDK)"

    def __init__(self, container_id: str) -> None:
        from envs.rock.docker_backend import client

        self.container = client().containers.get(container_id)

    def run(self, command: str) -> tuple[float, str]:
        t = time.perf_counter()
        r = self.container.exec_run(["bash", "-c", command])
        dt = time.perf_counter() - t
        return dt, r.output.decode("utf-8", "replace")

    def close(self) -> None:
        return None


class MiniSweExec:
    """mini-swe-agent's way: `docker exec -w /tmp CID bash -lc CMD` as a subprocess."""

    name = "mini-swe-agent style (docker exec bash -lc)"

    def __init__(self, container_id: str, cwd: str = "/tmp") -> None:
        self.cid, self.cwd = container_id, cwd

    def run(self, command: str) -> tuple[float, str]:
        t = time.perf_counter()
        r = subprocess.run(
            ["docker", "exec", "-w", self.cwd, self.cid, "bash", "-lc", command],
            capture_output=True,
            timeout=60,
        )
        dt = time.perf_counter() - t
        return dt, (r.stdout + r.stderr).decode("utf-8", "replace")

    def close(self) -> None:
        return None


# -- SWE-ReX --------------------------------------------------------------------------------
_CLIENT = r"""
import asyncio, json, sys, time
from swerex.runtime.remote import RemoteRuntime
from swerex.runtime.abstract import BashAction, CreateBashSessionRequest

async def main(host, port, token):
    rt = RemoteRuntime(host=host, port=port, auth_token=token)
    for _ in range(200):
        try:
            if await rt.is_alive():
                break
        except Exception:
            pass
        await asyncio.sleep(0.1)
    await rt.create_session(CreateBashSessionRequest())
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)["cmd"]
        t = time.perf_counter()
        obs = await rt.run_in_session(BashAction(command=cmd, check="silent", timeout=60))
        dt = time.perf_counter() - t
        print(json.dumps({"s": dt, "out": obs.output}), flush=True)
    await rt.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""


def swerex_venv(venv: Path = VENV) -> Path:
    """The venv's python, creating the venv with `pip install swe-rex aiohttp` once; `PeerSkipped`
    when that fails (no package index, no venv module)."""
    python = venv / "bin" / "python"
    if (venv / ".ok").is_file() and (venv / ".ok").read_text().split() == list(PACKAGES):
        return python
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PACKAGES],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        out = getattr(exc, "stderr", b"") or b""
        tail = out.decode("utf-8", "replace").strip().splitlines()[-1:] if out else [str(exc)]
        raise PeerSkipped(f"cannot install swe-rex into {venv}: {tail[0][:160]}") from exc
    (venv / ".ok").write_text(" ".join(PACKAGES) + "\n")
    return python


class SweRexPeer:
    """SWE-ReX: `swerex-remote` in a container of `image`, its client in the venv."""

    name = "SWE-ReX (persistent shell, HTTP)"

    def __init__(self, image: str, venv: Path = VENV) -> None:
        python = swerex_venv(venv)
        base = self._base_prefix(python)
        token = secrets.token_hex(8)
        with socket.socket() as probe:  # a free port on the host's loopback
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        run = subprocess.run(
            [
                "docker", "run", "-d", "--rm", "--label", f"{LABEL}=swerex", "--network", "host",
                "-v", f"{venv}:{venv}:ro", "-v", f"{base}:{base}:ro",
                image, str(venv / "bin" / "swerex-remote"), "--auth-token", token,
                "--port", str(port), "--host", "127.0.0.1",
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if run.returncode != 0:
            raise PeerSkipped(f"cannot start swerex-remote: {run.stderr.strip()[-160:]}")
        self.cid = run.stdout.strip()
        self.proc: subprocess.Popen[str] | None = None
        try:
            self.proc = subprocess.Popen(
                [str(python), "-c", _CLIENT, "http://127.0.0.1", str(port), token],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                logs = subprocess.run(["docker", "logs", self.cid], capture_output=True, text=True)
                why = (err.strip().splitlines() or logs.stderr.strip().splitlines() or ["?"])[-1]
                raise PeerSkipped(f"SWE-ReX client did not connect: {why[:160]}")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _base_prefix(python: Path) -> str:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def run(self, command: str) -> tuple[float, str]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"cmd": command}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"SWE-ReX client died on {command!r}")
        reply: dict[str, Any] = json.loads(line)
        return float(reply["s"]), str(reply["out"])

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        subprocess.run(["docker", "rm", "-f", self.cid], capture_output=True)
