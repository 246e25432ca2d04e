"""`BatchEnv`: N chunk-level envs stepping concurrently, each at its own pace.

Why not Gymnasium's `AsyncVectorEnv`: it steps all envs in lockstep and autoresets, while agent
turns take very different times (one model call may take 100x another), so lockstep idles the
fast envs; it forks a process per env that would each hold a Docker client and sandbox
sessions; and `Text` observations do not batch into arrays. Sandbox work is I/O-bound, so
threads suffice: every env call returns a `Future`, and `step_all`/`reset_all` are the
lockstep convenience for callers that want it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, SupportsFloat

from envs.core.env import ChunkEnv

StepResult = tuple[str, SupportsFloat, bool, bool, dict[str, Any]]


class BatchEnv:
    """Owns `n` envs made by `make_env`; env `i` is only ever touched by one call at a time."""

    def __init__(self, make_env: Callable[[], ChunkEnv], n: int) -> None:
        self.envs = [make_env() for _ in range(n)]
        self._pools = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ale-batch-{i}") for i in range(n)
        ]

    def __len__(self) -> int:
        return len(self.envs)

    def reset(
        self, i: int, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> Future[tuple[str, dict[str, Any]]]:
        return self._pools[i].submit(self.envs[i].reset, seed=seed, options=options)

    def step(self, i: int, action: str) -> Future[StepResult]:
        return self._pools[i].submit(self.envs[i].step, action)

    def prefetch(self, i: int, task_id: str) -> None:
        """Prepare env `i`'s next task while its current episode runs."""
        self.envs[i].prefetch(task_id)

    def reset_all(
        self, options: Sequence[dict[str, Any] | None]
    ) -> list[tuple[str, dict[str, Any]]]:
        futures = [self.reset(i, options=o) for i, o in enumerate(options)]
        return [f.result() for f in futures]

    def step_all(self, actions: Sequence[str | None]) -> list[StepResult | None]:
        """Step every env whose action is not None; None leaves that env alone."""
        futures = [None if a is None else self.step(i, a) for i, a in enumerate(actions)]
        return [None if f is None else f.result() for f in futures]

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True)
        for env in self.envs:
            env.close()
