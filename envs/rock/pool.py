"""A warm pool: sandboxes of one spec started ahead of time, so `acquire` costs a queue pop.

Creation and closing happen on background threads. Each pooled sandbox has already opened
its default shell session, so its first `run` pays no session start-up either.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from envs.rock.api import Sandbox, SandboxSpec
from envs.rock.errors import SandboxError
from envs.rock.factory import create_sandbox


class WarmPool:
    """Keeps `size` ready sandboxes of `spec`; thread-safe.

    `acquire()` returns a ready sandbox (a *hit*) or, when none is ready, waits for the next
    one being started (a *miss*). `release(sb)` closes a used sandbox in the background: a
    sandbox is never handed out twice, so no state leaks between episodes.
    """

    def __init__(
        self,
        spec: SandboxSpec,
        size: int = 4,
        backend: str = "auto",
        factory: Callable[[SandboxSpec, str], Sandbox] = create_sandbox,
        workers: int | None = None,
    ) -> None:
        self.spec, self.size, self.backend = spec, size, backend
        self._factory = factory
        self._ready: queue.Queue[Sandbox | BaseException] = queue.Queue()
        self._executor = ThreadPoolExecutor(
            max_workers=workers or max(2, size), thread_name_prefix="ale-pool"
        )
        self._lock = threading.Lock()
        self._put = threading.Condition(self._lock)  # notified whenever `_ready` grows
        self._closed = False
        self.hits = self.misses = 0
        for _ in range(size):
            self._refill()

    def _refill(self) -> None:
        self._executor.submit(self._start_one)

    def _start_one(self) -> None:
        try:
            sb = self._factory(self.spec, self.backend)
            sb.run("true", timeout=30)  # opens the default session
        except BaseException as exc:  # delivered to the acquirer, which re-raises
            with self._put:
                self._ready.put(exc)
                self._put.notify_all()
            return
        with self._put:
            closed = self._closed
            if not closed:
                self._ready.put(sb)
                self._put.notify_all()
        if closed:
            sb.close()

    @property
    def ready(self) -> int:
        """Sandboxes started and waiting now (the next `ready` acquires are hits)."""
        return self._ready.qsize()

    def wait_ready(self, n: int | None = None, timeout: float = 120.0) -> None:
        """Block until `n` (default `size`) sandboxes are ready, or raise `SandboxError`
        after `timeout` seconds. A failed start counts as ready: `acquire` raises it."""
        want = self.size if n is None else n
        with self._put:
            if not self._put.wait_for(lambda: self._ready.qsize() >= want, timeout):
                raise SandboxError(f"{want} sandboxes were not ready within {timeout} s")

    def acquire(self, timeout: float | None = 120.0) -> Sandbox:
        """A fresh, started sandbox; its replacement starts in the background."""
        with self._lock:
            if self._closed:
                raise SandboxError("this WarmPool is closed")
        try:
            item = self._ready.get_nowait()
            self.hits += 1
        except queue.Empty:
            self.misses += 1
            try:
                item = self._ready.get(timeout=timeout)
            except queue.Empty as exc:
                raise SandboxError(f"no sandbox became ready within {timeout} s") from exc
        self._refill()
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self, sandbox: Sandbox) -> Future[None]:
        """Close `sandbox` in the background (at once if the pool is closed)."""
        try:
            return self._executor.submit(sandbox.close)
        except RuntimeError:  # executor shut down
            sandbox.close()
            done: Future[None] = Future()
            done.set_result(None)
            return done

    def close(self) -> None:
        """Close every ready sandbox and stop refilling. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, BaseException):
                item.close()

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
