"""A Docker engine restart mid-command gives a clear error, not a hang.

The test starts a second, private dockerd (its own socket, data root and containerd) so that
restarting it cannot disturb the engine other tests use, and gives it a tiny image made of
this host's bash and its libraries.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TINY_BINARIES = ["/bin/bash", "/bin/sleep", "/bin/cat", "/bin/ls"]


def tiny_rootfs(root: Path) -> None:
    """A root filesystem holding `TINY_BINARIES` and the shared libraries they load."""
    for binary in TINY_BINARIES:
        libs = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        paths = [binary] + [p for p in libs.split() if p.startswith("/")]
        for p in paths:
            dest = root / p.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(p), dest)
    for d in ("tmp", "root", "proc", "dev", "sys", "etc"):
        (root / d).mkdir(exist_ok=True)


def start_dockerd(base: Path, sock: Path) -> subprocess.Popen[bytes]:
    """A private dockerd in a network namespace of its own.

    `--bridge none` makes dockerd delete a `docker0` bridge it finds (moby#26989): in the host's
    namespace that would take the shared engine's bridge away from every other test. `unshare`
    execs dockerd (no fork), so the returned process is dockerd itself.
    """
    proc = subprocess.Popen(
        [
            "unshare",
            "--net",
            "dockerd",
            "--host",
            f"unix://{sock}",
            "--data-root",
            str(base / "data"),
            "--exec-root",
            str(base / "exec"),
            "--pidfile",
            str(base / "dockerd.pid"),
            "--bridge",
            "none",
            "--iptables=false",
            "--ip-masq=false",
        ],
        stdout=(base / "dockerd.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    deadline = time.monotonic() + 60
    while subprocess.run(["docker", "info"], env=env, capture_output=True).returncode != 0:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(
                f"private dockerd did not start: {(base / 'dockerd.log').read_text()[-2000:]}"
            )
        time.sleep(0.5)
    return proc


@pytest.fixture()
def private_engine() -> Iterator[tuple[Path, Path]]:
    base = Path(f"/tmp/ale-dockerd-{os.getpid()}")  # short: unix socket paths are limited
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    sock = base / "d.sock"
    proc = start_dockerd(base, sock)
    rootfs = base / "rootfs"
    tiny_rootfs(rootfs)
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        ["docker", "import", "-", "ale-tiny:test"],
        stdin=tar.stdout,
        env=env,
        check=True,
        capture_output=True,
    )
    tar.wait()
    ENGINES[base] = proc
    yield base, sock
    engine = ENGINES.pop(base)
    engine.send_signal(signal.SIGTERM)
    engine.wait(timeout=60)
    subprocess.run(["pkill", "-f", f"containerd.*{base}"], capture_output=True)
    subprocess.run(["umount", "-R", str(base / "exec")], capture_output=True)
    subprocess.run(["umount", "-R", str(base / "data")], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


ENGINES: dict[Path, subprocess.Popen[bytes]] = {}


def holder_of(engine: tuple[Path, Path]) -> subprocess.Popen[bytes]:
    return ENGINES[engine[0]]


SCENARIO = """
import sys, time
from envs.rock import SandboxSpec, SandboxDead
from envs.rock.factory import create_sandbox
sb = create_sandbox(SandboxSpec(image="ale-tiny:test", workdir="/tmp"), "docker")
assert sb.run("echo up").output == "up\\n"
print("RUNNING", flush=True)
t0 = time.monotonic()
try:
    sb.run("sleep 100", timeout=200)
    print("NO-ERROR", flush=True)
except SandboxDead as exc:
    print(f"DEAD after {time.monotonic() - t0:.1f}s: {exc}", flush=True)
"""


def test_engine_restart_mid_command_is_a_clear_error(private_engine: tuple[Path, Path]) -> None:
    base, sock = private_engine
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(
        [sys.executable, "-c", SCENARIO],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert driver.stdout is not None
    first = driver.stdout.readline()
    assert first.startswith("RUNNING"), first + driver.stdout.read()
    time.sleep(1.0)
    engine = holder_of(private_engine)
    engine.send_signal(signal.SIGTERM)  # `systemctl restart docker`: the engine stops ...
    engine.wait(timeout=60)
    restarted = start_dockerd(base, sock)  # ... and comes back, without our container
    ENGINES[base] = restarted
    try:
        out, _ = driver.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        driver.kill()
        pytest.fail("the driver hung after the engine restarted")
    assert out.startswith("DEAD after"), out
    assert "create a new sandbox" in out or "create new ones" in out
