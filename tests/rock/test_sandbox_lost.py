"""Who killed it matters (issue 13, item 1): a sandbox that dies while running a command is
the command's doing (`CommandKilledSandbox`), unless its TTL passed or it was closed.

Nothing inside can end a sandbox any more (see test_containment's signal test), so the death
here comes from the host while the command runs: the stand-in for any escape the agent finds.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from envs.rock import CommandKilledSandbox, Sandbox, SandboxDead

pytestmark = pytest.mark.slow


def kill_from_host(sb: Sandbox) -> None:
    """End the sandbox from outside, the way its own PID 1 dying would."""
    if sb.__class__.__name__ == "DockerSandbox":
        from envs.rock.docker_backend import client

        client().containers.get(sb.id).kill()
    else:
        import os

        os.kill(sb._init_pid, signal.SIGKILL)  # type: ignore[attr-defined]


def test_death_during_a_command_is_the_commands(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox()  # type: ignore[operator]
    assert sb.run("echo up").ok
    threading.Timer(1.0, kill_from_host, args=(sb,)).start()
    with pytest.raises(CommandKilledSandbox, match="died while running 'sleep 60'"):
        sb.run("sleep 60", timeout=90)


def test_death_at_ttl_is_not_the_commands(make_sandbox: object) -> None:
    sb: Sandbox = make_sandbox(ttl_s=2)  # type: ignore[operator]
    t0 = time.monotonic()
    with pytest.raises(SandboxDead) as info:
        sb.run("sleep 60", timeout=90)
    assert not isinstance(info.value, CommandKilledSandbox), info.value
    assert time.monotonic() - t0 < 30
