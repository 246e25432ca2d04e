"""Sandbox prefetch of `SweTask` (colocated mode): which env slots prepare which task, and when.

Runs without docker or a model: the env slots are fakes that record `prefetch(task_id)` calls
(the `ChunkEnv.prefetch` interface), and the task is built without loading a tokenizer.
"""

from __future__ import annotations

from typing import Any

import pytest

from rl.config import parse_config
from rl.swe_task import SweTask

TASKS = ["t-a", "t-b", "t-c", "t-d", "t-e"]


class FakeEnv:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def prefetch(self, task_id: str) -> None:
        self.calls.append(task_id)


class FakeGroup:
    use_ray = False

    def __init__(self, workers: int, epw: int) -> None:
        self.epw = epw
        self.workers = [
            type("W", (), {"envs": [FakeEnv() for _ in range(epw)]})() for _ in range(workers)
        ]

    def slots(self) -> int:
        return len(self.workers) * self.epw

    def env(self, slot: int) -> FakeEnv:
        return self.workers[slot // self.epw].envs[slot % self.epw]  # type: ignore[no-any-return]


def make_task(mode: str, steps: int = 3, starts: int = 4) -> SweTask:
    cfg = parse_config(
        {
            "run": {"steps": steps},
            "task": {"kind": "swe", "task_ids": TASKS},
            "scheduler": {"mode": mode, "workers": 2, "envs_per_worker": 2},
            "rollout": {"starts": starts, "group_size": 1},
        }
    )
    task = SweTask.__new__(SweTask)
    task.cfg, task.task_ids, task._prefetched = cfg, list(TASKS), {}
    return task


def test_prefetch_prepares_each_slot_with_the_item_it_will_run() -> None:
    task, group = make_task("colocated"), FakeGroup(2, 2)
    task.prefetch(group, 2)  # type: ignore[arg-type]
    expected = [start.task_id for _, start in task.items(2)]
    assert [group.env(i).calls for i in range(4)] == [[t] for t in expected]


@pytest.mark.parametrize("mode", ["sequential", "disaggregated"])
def test_no_prefetch_outside_colocated(mode: str) -> None:
    task, group = make_task(mode), FakeGroup(2, 2)
    task.prefetch(group, 2)  # type: ignore[arg-type]
    assert all(not group.env(i).calls for i in range(4))


def test_no_sandboxes_for_a_batch_after_the_last_step() -> None:
    task, group = make_task("colocated", steps=3), FakeGroup(2, 2)
    task.prefetch(group, 4)  # type: ignore[arg-type]
    assert all(not group.env(i).calls for i in range(4))


def test_slots_prefetched_during_rollout_are_not_restarted_after_it() -> None:
    """A slot that finished its episode early started its next sandbox then; the scheduler's
    prefetch after ROLLOUT must not drop and restart it (only the other slots start)."""
    task, group = make_task("colocated"), FakeGroup(2, 2)
    seen: list[int] = []

    def fake_run_items(engine: Any, grp: Any, items: Any, next_sandbox: Any = None) -> list[Any]:
        assert next_sandbox is not None
        for slot in (2, 0):  # these episodes finish during ROLLOUT
            next_sandbox(slot)
            seen.append(slot)
        raise RuntimeError("end of the fake rollout")

    task.run_items = fake_run_items  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="end of the fake rollout"):
        task.collect(None, group, 1)  # type: ignore[arg-type]
    task.prefetch(group, 2)  # type: ignore[arg-type]
    expected = [start.task_id for _, start in task.items(2)]
    assert seen == [2, 0]
    assert [group.env(i).calls for i in range(4)] == [[t] for t in expected]
