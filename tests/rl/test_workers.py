"""Env workers: prefetch resets a spare env, so it is safe while an episode runs; and a
training task starts each slot's next-batch reset when `scheduler.prefetch_from` says."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from rl.config import parse_config
from rl.engines import make_engine
from rl.models import build_model
from rl.toy.task import ToyTask
from rl.workers import EnvSpec, EnvWorker, WorkerGroup

BETA = {"task_id": "beta-io", "replay": ["cd beta"]}
GAMMA = {"task_id": "gamma-util", "replay": []}


def test_prefetch_does_not_touch_the_running_episode() -> None:
    worker = EnvWorker(EnvSpec("ale/ToyShell-v0"), n_envs=1)
    try:
        [(_, info)] = worker.reset_many([(0, BETA, None)])
        assert info["replayed"][0]["action"] == "cd beta"
        worker.prefetch([(0, GAMMA, None)])  # the next episode, while this one still runs
        [(obs, *_)] = worker.step_many([(0, "test")])
        assert obs == "tests FAIL in io"  # still in beta's episode, in its directory
        [(_, info)] = worker.reset_many([(0, GAMMA, None)])
        assert info["task_id"] == "gamma-util" and not info.get("replayed")
        assert worker.get_stats() == {"resets": 2, "prefetch_hits": 1, "steps": 1}
        # a reset with other options (a retry) does not use the prefetch, and leaves it
        worker.prefetch([(0, GAMMA, None)])
        [(_, info)] = worker.reset_many([(0, BETA, None)])
        assert info["replayed"][0]["action"] == "cd beta"
        assert worker.get_stats()["prefetch_hits"] == 1
        [(_, info)] = worker.reset_many([(0, GAMMA, None)])
        assert info["task_id"] == "gamma-util"
        assert worker.get_stats() == {"resets": 4, "prefetch_hits": 2, "steps": 1}
    finally:
        worker.close()


class RecordingGroup(WorkerGroup):
    """A real in-process group that logs, per slot, the order of resets, prefetches and steps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[str, int]] = []
        self._log = threading.Lock()

    def _record(self, kind: str, jobs: Any) -> None:
        with self._log:
            self.events += [(kind, job[0]) for job in jobs]

    def prefetch(self, jobs: Any) -> None:
        self._record("prefetch", jobs)
        super().prefetch(jobs)

    def reset_many(self, jobs: Any) -> Any:
        self._record("reset", jobs)
        return super().reset_many(jobs)

    def step_many(self, jobs: Any) -> Any:
        self._record("step", jobs)
        return super().step_many(jobs)

    def of(self, slot: int) -> list[str]:
        return [kind for kind, s in self.events if s == slot]


@pytest.mark.parametrize("when", ["episode_start", "episode_end"])
def test_toy_prefetch_from(when: str, tmp_path: Path) -> None:
    """Each slot of the last wave prepares its next-batch env once: right after its own reset
    (episode_start) or once its episode has ended (episode_end); the scheduler's prefetch after
    ROLLOUT adds nothing, and nothing is prepared for a step after the last."""
    cfg = parse_config(
        {
            "run": {"out_dir": str(tmp_path), "steps": 3},
            "scheduler": {"mode": "colocated", "prefetch_from": when},
            "rollout": {"starts": 2, "group_size": 2},
        }
    )
    task = ToyTask(cfg)
    group = RecordingGroup(task.spec, workers=2, envs_per_worker=2)
    model = build_model("tiny_lm", task.vocab_size, 32, 1, 2, 160, None)
    engine = make_engine("toy", model, pad_id=task.pad_id, device="cpu")
    try:
        task.collect(engine, group, 1)
        for slot in range(4):
            events = group.of(slot)
            assert events.count("prefetch") == 1 and events[0] == "reset"
            if when == "episode_start":  # before the episode's first step
                assert events[1] == "prefetch" and "step" in events[2:]
            else:  # after its last step
                assert events[-1] == "prefetch" and "step" in events
        task.prefetch(group, 2)  # what the scheduler calls after ROLLOUT: never twice
        assert [kind for kind, _ in group.events].count("prefetch") == 4
        task.collect(engine, group, 2)
        assert group.stats()["prefetch_hits"] == 4
        task.collect(engine, group, 3)  # the last step: nothing prepared for a step 4
        assert [kind for kind, _ in group.events].count("prefetch") == 8
    finally:
        group.close()
