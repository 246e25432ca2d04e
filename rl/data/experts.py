"""Expert trajectories from an `ale data build` dataset (`rollout.expert_data` of `ale train`).

Per task, the dataset's shortest resolved episode (fewest env actions; the first of equals)
gives the expert: its env actions are the prefixes chunk-level resampling replays, and so the
chunks the IPA imitation term trains on. The replayed turns are tokenized by the policy's own
`replay`, as `ale data build` tokenizes text-only episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envs.core.config import ConfigError
from rl.resampling import ExpertTrajectory


def dataset_experts(path: str | Path, task_ids: Sequence[str]) -> list[ExpertTrajectory]:
    """One expert per task of `task_ids` (no actions, i.e. scratch only, where the dataset has
    no resolved episode of the task)."""
    from rl.data.build import load_sft_dataset

    ds = load_sft_dataset(path).select_columns(["task_id", "actions", "reward", "status"])
    best: dict[str, tuple[str, ...]] = {}
    for row in ds:
        actions = tuple(str(a) for a in row["actions"])
        if row["status"] != "resolved" or not actions:
            continue
        task = str(row["task_id"])
        if task not in best or len(actions) < len(best[task]):
            best[task] = actions
    if not any(t in best for t in task_ids):
        raise ConfigError(
            f"rollout.expert_data {path}: no resolved episode of any task of this run "
            f"({', '.join(list(task_ids)[:4])}, ...): build it from runs of these tasks"
        )
    return [ExpertTrajectory(t, best.get(t, ())) for t in task_ids]
