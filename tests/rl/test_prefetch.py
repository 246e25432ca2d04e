"""Prefetch of a training task (colocated mode): which env slots prepare which start state,
and when. The same code serves every task (`rl.rollout.AgentRollouts`); runs without docker or
a model: the group is a fake that records the `prefetch` jobs it is given (the public
`WorkerGroup.prefetch` interface)."""

from __future__ import annotations

from typing import Any

import pytest

from rl.config import parse_config
from rl.toy.task import ToyTask

TASKS = ["alpha-main", "beta-io", "gamma-util", "delta-core", "alpha-io"]


class FakeGroup:
    def __init__(self, workers: int, epw: int) -> None:
        self.n = workers * epw
        self.jobs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(self.n)}

    def slots(self) -> int:
        return self.n

    def prefetch(self, jobs: list[tuple[int, dict[str, Any], int | None]]) -> None:
        for slot, options, _ in jobs:
            self.jobs[slot].append(options)

    def calls(self, slot: int) -> list[str]:
        return [o["task_id"] for o in self.jobs[slot]]


def make_task(mode: str, steps: int = 3, starts: int = 4) -> ToyTask:
    cfg = parse_config(
        {
            "run": {"steps": steps},
            "task": {"kind": "toy", "task_ids": TASKS},
            "scheduler": {"mode": mode, "workers": 2, "envs_per_worker": 2},
            "rollout": {"starts": starts, "group_size": 1},
        }
    )
    return ToyTask(cfg)


def test_prefetch_prepares_each_slot_with_the_item_it_will_run() -> None:
    task, group = make_task("colocated"), FakeGroup(2, 2)
    task.prefetch(group, 2)  # type: ignore[arg-type]
    expected = [start.task_id for _, start in task.items(2)]
    assert [group.calls(i) for i in range(4)] == [[t] for t in expected]
    assert [group.jobs[i][0] for i in range(4)] == [s.options() for _, s in task.items(2)]


@pytest.mark.parametrize("mode", ["sequential", "disaggregated"])
def test_no_prefetch_outside_colocated(mode: str) -> None:
    task, group = make_task(mode), FakeGroup(2, 2)
    task.prefetch(group, 2)  # type: ignore[arg-type]
    assert all(not group.calls(i) for i in range(4))


def test_no_sandboxes_for_a_batch_after_the_last_step() -> None:
    task, group = make_task("colocated", steps=3), FakeGroup(2, 2)
    task.prefetch(group, 4)  # type: ignore[arg-type]
    assert all(not group.calls(i) for i in range(4))


def test_slots_prefetched_during_rollout_are_not_restarted_after_it() -> None:
    """A slot that finished its episode early started its next environment then; the
    scheduler's prefetch after ROLLOUT must not drop and restart it (only the other slots start)."""
    task, group = make_task("colocated"), FakeGroup(2, 2)
    seen: list[int] = []

    def fake_run_items(
        engine: Any, grp: Any, items: Any, seed: int, next_env: Any = None
    ) -> list[Any]:
        assert next_env is not None
        for slot in (2, 0):  # these episodes finish during ROLLOUT
            next_env(slot)
            seen.append(slot)
        raise RuntimeError("end of the fake rollout")

    task.run_items = fake_run_items  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="end of the fake rollout"):
        task.collect(None, group, 1)  # type: ignore[arg-type]
    task.prefetch(group, 2)  # type: ignore[arg-type]
    expected = [start.task_id for _, start in task.items(2)]
    assert seen == [2, 0]
    assert [group.calls(i) for i in range(4)] == [[t] for t in expected]
