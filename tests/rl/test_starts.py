"""`rollout.resample` from the config: every strategy reaches `ale train`'s batches
(parallel, rollback curriculum, crucial-chunk anchoring, none) and `prefix_start: snapshot`
restores prefixes instead of replaying them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envs.toy import expert_actions, task_ids
from rl.config import parse_config
from rl.records import read_jsonl
from rl.resampling import ExpertTrajectory, StartState
from rl.starts import StartPlanner
from rl.tasks import Episode
from rl.train_loop import train

EXPERTS = [ExpertTrajectory(t, tuple(expert_actions(t))) for t in task_ids()[:3]]


def _planner(resample: str, **rollout: Any) -> StartPlanner:
    cfg = parse_config(
        {
            "rollout": {
                "resample": resample,
                "starts": 6,
                "group_size": 2,
                "scratch_frac": 0.0,
                **rollout,
            }
        }
    )
    return StartPlanner(cfg.rollout, 0, EXPERTS)


def test_rollback_starts_at_the_last_chunk_and_moves_back_after_successes() -> None:
    planner = _planner("rollback", rollback_window=2)
    assert {s.anchor for _, s in planner.items(1)} == {4}
    task = planner.items(1)[0][1].task_id
    metrics = planner.record([(StartState(task, 4), True)] * 2)
    assert planner.curriculum.anchor(task) == 3 and metrics["anchor_mean"] == pytest.approx(11 / 3)
    assert planner.items(1) == planner.items(1)  # drawn once per batch
    assert {s.anchor for _, s in planner.items(2) if s.task_id == task} == {3}


def test_crucial_anchors_where_success_drops_most() -> None:
    """A fake policy succeeds only from anchor 3 on: the crucial chunk is 2 for every expert."""
    planner = _planner("crucial", crucial_every=2, crucial_episodes=2)
    calls: list[int] = []

    def run(items: list[Any], seed: int) -> list[Episode]:
        calls.append(len(items))
        return [Episode(it, None, 1.0 if it[1].anchor >= 3 else 0.0, [], 0) for it in items]  # type: ignore[arg-type]

    planner.items(1)  # drawn ahead (a prefetch): the measurement redraws it
    planner.before_batch(1, run)
    assert calls == [4 * 2] * 3  # K anchors x episodes, per expert
    assert {s.anchor for _, s in planner.items(1)} == {2}
    planner.before_batch(2, run)  # not due: every 2 batches
    assert len(calls) == 3


def test_none_and_scratch_only_tasks_start_from_scratch() -> None:
    assert {s.anchor for _, s in _planner("none").items(1)} == {1}
    cfg = parse_config({"rollout": {"resample": "parallel"}})
    plain = StartPlanner(cfg.rollout, 0, [ExpertTrajectory("t", ())])
    assert {(s.anchor, s.replay) for _, s in plain.items(1)} == {(1, ())}


def _run(tmp_path: Path, **rollout: Any) -> Path:
    out = tmp_path / "run"
    cfg = parse_config(
        {
            "run": {"out_dir": str(out), "steps": 2, "checkpoint_every": 0, "progress": False},
            "rollout": {"starts": 4, "group_size": 2, "scratch_frac": 0.0, **rollout},
            "scheduler": {"workers": 1, "envs_per_worker": 8},
            "model": {"layers": 1, "dim": 32, "heads": 2},
            "eval": {"every": 0},
        }
    )
    train(cfg)
    return out


@pytest.mark.parametrize("resample", ["rollback", "crucial"])
def test_ale_train_runs_each_strategy(resample: str, tmp_path: Path) -> None:
    out = _run(tmp_path, resample=resample, crucial_every=1, crucial_episodes=1)
    rollouts = read_jsonl(out / "rollouts.jsonl")
    assert len(rollouts) == 16
    first = {r["anchor"] for r in rollouts if r["batch"] == 1}
    assert first == {4} if resample == "rollback" else first <= {1, 2, 3, 4}
    assert all("anchor_mean" in m for m in read_jsonl(out / "metrics.jsonl"))


def test_snapshot_prefixes_restore_instead_of_replaying(tmp_path: Path) -> None:
    out = _run(tmp_path, resample="rollback", prefix_start="snapshot")
    [workers] = read_jsonl(out / "workers.jsonl")
    stats = workers["stats"]
    assert stats["prefix_restores"] > 0 and stats["prefix_replays"] > 0
    assert stats["prefix_restores"] + stats["prefix_replays"] <= stats["resets"]
