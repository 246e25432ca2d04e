"""Where a training step's wall time goes: generation, env wait, grading, train, sync, eval.

Many threads are active at once (one per episode, the trainer, a producer thread), so the
account is exclusive: at every instant the wall clock is charged to the highest-priority
activity running (`PRIORITY`: eval > sync > train > generation > grading > env_wait), or to
`other` when none runs (tokenizing, bookkeeping, logging, checkpoints). The fractions of a
step therefore sum to exactly 1. Each stretch is also charged the machine's busy CPU seconds
(/proc/stat), so `cores/<activity>` says how many of the machine's cores were busy while that
activity bounded the run: generation at 1.0 core on a 2-core box is a single-threaded engine;
env_wait at 0.2 cores is waiting on sandboxes elsewhere (latency bound).

Grading happens inside an env step (the episode's last one); the env reports its duration as
`info["grade_s"]` and that much of the step's env time is moved to `grading`.

Hooks: `AccountedEngine` (engine calls), `AccountedGroup` (env-worker resets and steps),
`Account.active(name)` around TRAIN, SYNC and eval.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from agents.engines.base import Engine, Generation, Sampling
from rl.workers import EnvSpec, ResetResult, StepResult, WorkerGroup

PRIORITY = ("eval", "sync", "train", "generation", "grading", "env_wait")
"""Activities, highest priority first; the five of a step's phase split plus eval."""
ACTIVITIES = ("generation", "env_wait", "grading", "train", "sync", "eval", "other")
"""Every activity a step's wall time is charged to, in display order."""


def machine_busy_cpu_s() -> float:
    """CPU seconds all processes of this machine have been busy since boot (/proc/stat: every
    state but idle and iowait), 0.0 where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return 0.0
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class Account:
    """Exclusive wall-clock (and busy-CPU) accounting over activities of many threads."""

    def __init__(
        self,
        clock: Callable[[], float] = time.perf_counter,
        cpu: Callable[[], float] = machine_busy_cpu_s,
    ) -> None:
        self._clock, self._cpu = clock, cpu
        self._lock = threading.Lock()
        self._running = dict.fromkeys(PRIORITY, 0)
        self._wall = dict.fromkeys(ACTIVITIES, 0.0)
        self._cpu_s = dict.fromkeys(ACTIVITIES, 0.0)
        self._current = "other"
        self._since, self._cpu_since = clock(), cpu()

    def _top(self) -> str:
        return next((a for a in PRIORITY if self._running[a]), "other")

    def _switch(self) -> None:
        """Charge the stretch since the last change to the current activity (lock held)."""
        top = self._top()
        if top == self._current:
            return
        now, cpu = self._clock(), self._cpu()
        self._wall[self._current] += now - self._since
        self._cpu_s[self._current] += cpu - self._cpu_since
        self._current, self._since, self._cpu_since = top, now, cpu

    def enter(self, name: str) -> None:
        with self._lock:
            self._running[name] += 1
            self._switch()

    def leave(self, name: str) -> None:
        with self._lock:
            self._running[name] -= 1
            self._switch()

    @contextmanager
    def active(self, name: str) -> Iterator[None]:
        """`name` runs for the duration of the block (from any thread, nested or not)."""
        self.enter(name)
        try:
            yield
        finally:
            self.leave(name)

    def move(self, src: str, dst: str, seconds: float) -> None:
        """Re-charge up to `seconds` already charged to `src` to `dst` (with their share of CPU)."""
        with self._lock:
            moved = min(seconds, self._wall[src])
            if moved <= 0:
                return
            share = moved / self._wall[src]
            self._wall[src] -= moved
            self._wall[dst] += moved
            cpu = self._cpu_s[src] * share
            self._cpu_s[src] -= cpu
            self._cpu_s[dst] += cpu

    def take(self) -> dict[str, tuple[float, float]]:
        """{activity: (wall s, busy CPU s)} since the last `take`, and start a new period."""
        with self._lock:
            now, cpu = self._clock(), self._cpu()
            self._wall[self._current] += now - self._since
            self._cpu_s[self._current] += cpu - self._cpu_since
            self._since, self._cpu_since = now, cpu
            out = {a: (self._wall[a], self._cpu_s[a]) for a in ACTIVITIES}
            self._wall = dict.fromkeys(ACTIVITIES, 0.0)
            self._cpu_s = dict.fromkeys(ACTIVITIES, 0.0)
            return out


def split_metrics(period: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """Metrics of one period: `frac/<activity>` (of its wall time, summing to 1), `cores/<activity>`
    (busy cores while it bounded the run; absent when it did not run) and `cores/all`."""
    wall = sum(w for w, _ in period.values())
    out: dict[str, float] = {}
    for a, (w, c) in period.items():
        out[f"frac/{a}"] = w / wall if wall > 0 else 0.0
        if w > 0:
            out[f"cores/{a}"] = c / w
    out["cores/all"] = sum(c for _, c in period.values()) / wall if wall > 0 else 0.0
    return out


class AccountedEngine:
    """An `Engine` whose `generate` calls are charged to `generation`."""

    def __init__(self, engine: Engine, account: Account) -> None:
        self.inner, self.account = engine, account

    @property
    def version(self) -> int:
        return self.inner.version

    @version.setter
    def version(self, value: int) -> None:
        self.inner.version = value

    @property
    def awake(self) -> bool:
        return self.inner.awake

    def generate(
        self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int | None = None
    ) -> list[Generation]:
        with self.account.active("generation"):
            return self.inner.generate(prompts, sampling, seed=seed)

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        with self.account.active("generation"):
            return self.inner.score(prompt_ids, response_ids)

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        self.inner.update_weights(state_dict, version)

    def sleep(self) -> None:
        self.inner.sleep()

    def wake(self) -> None:
        self.inner.wake()


class AccountedGroup(WorkerGroup):
    """A `WorkerGroup` whose waits on resets and steps are charged to `env_wait` (background
    prefetches are not waits; a reset that takes a prefetch still pending waits for it), and
    the grading inside a step (`info["grade_s"]`) to `grading`."""

    def __init__(
        self,
        account: Account,
        spec: EnvSpec,
        workers: int,
        envs_per_worker: int,
        use_ray: bool = False,
    ) -> None:
        super().__init__(spec, workers, envs_per_worker, use_ray=use_ray)
        self.account = account

    def reset_many(
        self, jobs: Sequence[tuple[int, dict[str, Any], int | None]]
    ) -> list[ResetResult]:
        with self.account.active("env_wait"):
            return super().reset_many(jobs)

    def step_many(self, jobs: Sequence[tuple[int, Any]]) -> list[StepResult]:
        with self.account.active("env_wait"):
            results = super().step_many(jobs)
        graded = max((float(r[4].get("grade_s") or 0.0) for r in results), default=0.0)
        if graded > 0:
            self.account.move("env_wait", "grading", graded)
        return results
