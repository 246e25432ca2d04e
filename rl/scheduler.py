"""Schedulers: how ROLLOUT, TRAIN and SYNC share the machine.

- `ColocatedScheduler` (modes "colocated" and "sequential"): time division. ROLLOUT (engine
  awake, trainer offloaded) -> TRAIN (engine asleep, trainer on) -> SYNC (weights into the
  engine). With `prefetch`, the env workers reset the next batch's environments during TRAIN;
  "sequential" turns prefetch and offloading off (the strictly sequential baseline).
- `AsyncScheduler` (modes "disaggregated" and "partial"): a producer thread samples batches
  with the engine while the trainer trains; SYNC loads new weights between two engine calls.
  A sample whose oldest chunk is more than `max_staleness` versions behind the trainer is
  dropped and counted. "partial" shrinks the rollout side to `partial_workers` workers during
  TRAIN and expands it back after SYNC.

Every phase is timed and its memory logged (`PhaseLog`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents.engines.base import Engine
from agents.engines.offload import device_memory
from rl.accounting import PRIORITY, Account, machine_busy_cpu_s
from rl.config import SchedulerConfig
from rl.records import Ledger, Rollout
from rl.tasks import Episode, RolloutTask
from rl.trainer import Trainer
from rl.workers import WorkerGroup


class PhaseLog:
    """Times phases and samples memory (RSS; CUDA allocated when CUDA is in use) around them,
    and the machine's busy CPU seconds during each (`cpu_s`: divided by `dur_s`, the cores in
    use on average; what is left of `os.cpu_count()` was idle and could have been overlapped).
    """

    def __init__(self, ledger: Ledger | None = None, account: Account | None = None) -> None:
        self.ledger, self.account = ledger, account
        """`account`: TRAIN and SYNC are also charged to it (`rl.accounting`)."""
        self.totals: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}

    @contextmanager
    def phase(self, name: str, step: int) -> Iterator[None]:
        before = device_memory()
        cpu0 = machine_busy_cpu_s()
        t0 = time.perf_counter()
        activity = name.lower() if self.account is not None and name.lower() in PRIORITY else ""
        if activity and self.account is not None:
            self.account.enter(activity)
        try:
            yield
        finally:
            if activity and self.account is not None:
                self.account.leave(activity)
            dur = time.perf_counter() - t0
            cpu_s = machine_busy_cpu_s() - cpu0
            after = device_memory()
            self.totals[name] = self.totals.get(name, 0.0) + dur
            self.last[name] = dur
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), after["rss"], before["rss"])
            if self.ledger is not None:
                self.ledger.write(
                    "phases",
                    {
                        "step": step,
                        "phase": name,
                        "dur_s": dur,
                        "cpu_s": cpu_s,
                        "mem_before": before,
                        "mem_after": after,
                    },
                )


class Scheduler:
    """Common parts: turning episodes into id'd rollouts, staleness filtering, TRAIN, SYNC."""

    def __init__(
        self,
        cfg: SchedulerConfig,
        task: RolloutTask,
        engine: Engine,
        trainer: Trainer,
        group: WorkerGroup,
        phases: PhaseLog,
        ledger: Ledger,
        cursor: int = 0,
    ) -> None:
        self.cfg, self.task, self.engine, self.trainer = cfg, task, engine, trainer
        self.group, self.phases, self.ledger = group, phases, ledger
        self.cursor = cursor
        """Rollout batches consumed (trained or dropped) so far: the data cursor."""
        self.dropped = 0
        self.staleness: list[int] = []

    def _rollouts(self, batch: int, episodes: list[Episode]) -> list[Rollout]:
        base = (batch - 1) * self.task.batch_size
        out = []
        for j, e in enumerate(episodes):
            r = Rollout(
                base + j,
                e.version,
                e.trajectory,
                e.reward,
                e.item[1].task_id,
                e.item[1].anchor,
                batch,
                {"infra_error": any(i.get("infra_error") for i in e.infos)},
            )
            self.ledger.write(
                "rollouts",
                {
                    "rid": r.rid,
                    "batch": batch,
                    "version": r.version,
                    "reward": r.reward,
                    "task_id": r.task_id,
                    "anchor": r.anchor,
                    "chunks": len(r.trajectory.chunks),
                    "sandboxes": sorted(
                        {str(i["sandbox_id"]) for i in e.infos if i.get("sandbox_id")}
                    ),
                    **({"timings": e.timings} if e.timings else {}),
                },
            )
            out.append(r)
        return out

    def _fresh(self, step: int, rollouts: list[Rollout]) -> list[Rollout]:
        fresh = []
        for r in rollouts:
            lag = self.trainer.version - r.version
            if lag > self.cfg.max_staleness:
                self.dropped += 1
                self.ledger.write(
                    "dropped",
                    {
                        "step": step,
                        "rid": r.rid,
                        "version": r.version,
                        "trainer_version": self.trainer.version,
                        "reason": "stale",
                    },
                )
            else:
                fresh.append(r)
        return fresh

    def rollout(self, step: int) -> list[Rollout]:
        raise NotImplementedError

    def train(self, step: int, rollouts: list[Rollout]) -> dict[str, float]:
        with self.phases.phase("TRAIN", step):
            self._before_train()
            self.staleness = [self.trainer.version - r.version for r in rollouts]
            metrics = self.trainer.train_step([r.trajectory for r in rollouts])
        return metrics

    def sync(self, step: int) -> None:
        with self.phases.phase("SYNC", step):
            self.engine.wake()
            self.engine.update_weights(self.trainer.weights(), self.trainer.version)
            self._after_sync()

    def _before_train(self) -> None:
        pass

    def _after_sync(self) -> None:
        pass

    def stop(self) -> None:
        pass


class ColocatedScheduler(Scheduler):
    """ROLLOUT -> TRAIN -> SYNC on the same devices; env prefetch during TRAIN."""

    @property
    def offload(self) -> bool:
        return self.cfg.offload and self.cfg.mode != "sequential"

    @property
    def prefetch(self) -> bool:
        return self.cfg.prefetch and self.cfg.mode != "sequential"

    def rollout(self, step: int) -> list[Rollout]:
        with self.phases.phase("ROLLOUT", step):
            if self.offload:
                self.trainer.offload()
            self.engine.wake()
            batch = self.cursor + 1
            episodes = self.task.collect(self.engine, self.group, batch)
            self.cursor = batch
            rollouts = self._fresh(step, self._rollouts(batch, episodes))
        if self.prefetch:
            self.task.prefetch(self.group, batch + 1)  # overlaps TRAIN
        return rollouts

    def _before_train(self) -> None:
        if self.offload:
            self.engine.sleep()
        self.trainer.onload()


class AsyncScheduler(Scheduler):
    """A producer thread keeps sampling; the trainer takes batches from a bounded queue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: queue.Queue[tuple[int, list[Episode]]] = queue.Queue(
            maxsize=max(self.cfg.queue_size, 1)
        )
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._produce, name="rollout-producer", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        batch = self.cursor + 1
        try:
            while not self._stop.is_set():
                episodes = self.task.collect(self.engine, self.group, batch)
                while not self._stop.is_set():
                    try:
                        self._queue.put((batch, episodes), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                batch += 1
        except BaseException as exc:  # surfaced in rollout()
            self._error = exc

    def rollout(self, step: int) -> list[Rollout]:
        """Wait for the next batch with at least one fresh sample (stale ones are dropped)."""
        with self.phases.phase("ROLLOUT", step):
            while True:
                item = None
                while item is None:
                    if self._error is not None:
                        raise RuntimeError("rollout producer failed") from self._error
                    try:
                        item = self._queue.get(timeout=0.1)
                    except queue.Empty:
                        continue
                batch, episodes = item
                if batch != self.cursor + 1:
                    raise RuntimeError(f"producer skipped from batch {self.cursor} to {batch}")
                self.cursor = batch
                fresh = self._fresh(step, self._rollouts(batch, episodes))
                if fresh:
                    return fresh

    def _before_train(self) -> None:
        if self.cfg.mode == "partial":
            self.group.set_active(self.cfg.partial_workers)

    def _after_sync(self) -> None:
        if self.cfg.mode == "partial":
            self.group.set_active(self.group.size)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def make_scheduler(cfg: SchedulerConfig, *args: Any, **kwargs: Any) -> Scheduler:
    """The scheduler class for `cfg.mode`."""
    if cfg.mode in ("colocated", "sequential"):
        return ColocatedScheduler(cfg, *args, **kwargs)
    return AsyncScheduler(cfg, *args, **kwargs)
