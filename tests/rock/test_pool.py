"""WarmPool: ready sandboxes handed out once, refilled in the background, errors surfaced."""

from __future__ import annotations

import threading

import pytest

from envs.rock import SandboxError, SandboxSpec
from envs.rock.api import ExecResult
from envs.rock.pool import WarmPool


class CountingSandbox:
    """A stand-in sandbox for pool mechanics only (the backends have their own suites)."""

    created = 0
    lock = threading.Lock()

    def __init__(self, spec: SandboxSpec) -> None:
        with CountingSandbox.lock:
            CountingSandbox.created += 1
            self.id = f"fake-{CountingSandbox.created}"
        self.spec, self.closed = spec, False

    def run(self, command: str, timeout: float = 60.0, session: str = "default") -> ExecResult:
        return ExecResult(exit_code=0, raw=b"")

    def close(self) -> None:
        self.closed = True


def test_acquire_hits_refills_and_never_reuses() -> None:
    pool = WarmPool(SandboxSpec(), size=2, factory=lambda spec, backend: CountingSandbox(spec))  # type: ignore[arg-type,return-value]
    seen = set()
    for _ in range(6):
        pool.wait_ready()  # the refill of the previous acquire has landed
        assert pool.ready == 2
        sb = pool.acquire()
        assert sb.id not in seen
        seen.add(sb.id)
        pool.release(sb).result()
        assert sb.closed  # type: ignore[attr-defined]
    assert (pool.hits, pool.misses) == (6, 0)
    pool.close()
    pool.close()
    with pytest.raises(SandboxError):
        pool.acquire()


def test_factory_error_reaches_the_caller() -> None:
    def broken(spec: SandboxSpec, backend: str) -> CountingSandbox:
        raise SandboxError("image missing: run `ale images build`")

    with WarmPool(SandboxSpec(), size=1, factory=broken) as pool:  # type: ignore[arg-type]
        with pytest.raises(SandboxError, match="ale images build"):
            pool.acquire(timeout=60)  # the error arrives at once; the bound only guards a hang


@pytest.mark.docker
def test_docker_pool_hands_out_started_sandboxes() -> None:
    with WarmPool(SandboxSpec(), size=2, backend="docker") as pool:
        pool.wait_ready()
        sb = pool.acquire()
        assert (pool.hits, pool.misses) == (1, 0) and sb.alive()  # started before it was asked
        assert sb.run("echo warm").output == "warm\n"
        pool.release(sb).result()
        assert not sb.alive()


def test_wait_ready_times_out_with_a_clear_error() -> None:
    never = threading.Event()

    def stuck(spec: SandboxSpec, backend: str) -> CountingSandbox:
        never.wait(30)
        return CountingSandbox(spec)

    pool = WarmPool(SandboxSpec(), size=1, factory=stuck)  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="not ready within 0.1 s"):
        pool.wait_ready(timeout=0.1)
    never.set()
    pool.close()
