"""An `ale data build` dataset as SFT trajectories: the recorded ids, the recorded mask.

Each row's `input_ids` are split at its `loss_mask` into the `rl.packing` layout: the ids
before the first policy token are the prompt, every maximal run of mask-1 ids is a chunk's
action (trained on), the mask-0 ids after it its observation (context only). `pack` puts them
back in one row, so the row a step trains on is exactly the recorded stream and its policy
tokens exactly the mask (`tests/rl/test_sft.py` checks it against a policy's own record).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from envs.core.config import ConfigError
from rl.packing import Chunk, PackedBatch, Trajectory, pack


def row_trajectory(input_ids: Sequence[int], loss_mask: Sequence[int]) -> Trajectory:
    """The trajectory of one dataset row (see the module doc)."""
    if len(input_ids) != len(loss_mask):
        raise ConfigError("a dataset row has input_ids and loss_mask of different lengths")
    if not loss_mask or loss_mask[0]:
        raise ConfigError("a dataset row must start with a prompt token (loss_mask[0] == 0)")
    ids, mask = list(input_ids), [int(m) for m in loss_mask]
    start = mask.index(1) if 1 in mask else len(ids)
    traj = Trajectory(ids[:start], [], 1.0)
    i = start
    while i < len(ids):
        j = i
        while j < len(ids) and mask[j]:
            j += 1
        k = j
        while k < len(ids) and not mask[k]:
            k += 1
        traj.chunks.append(Chunk(ids[i:j], [0.0] * (j - i), ids[j:k]))
        i = k
    return traj


@dataclass
class SFTData:
    """The rows an SFT run trains on, as trajectories, with the metadata stage 2 weighs."""

    trajectories: list[Trajectory]
    task_ids: list[str]
    difficulty: torch.Tensor
    """(N,) 1 - the teacher's pass rate on the sample's task."""
    reward: torch.Tensor
    """(N,) the sample's reward."""

    def __len__(self) -> int:
        return len(self.trajectories)

    @property
    def num_tokens(self) -> int:
        """Tokens of all rows (what one pass over the dataset reads)."""
        return sum(
            len(t.prompt_ids) + sum(len(c.action_ids) + len(c.obs_ids) for c in t.chunks)
            for t in self.trajectories
        )

    def batch(self, indices: Sequence[int], pad_id: int) -> PackedBatch:
        """Rows `indices`, one per packed row (right-padded)."""
        return pack([self.trajectories[i] for i in indices], pad_id)


def load_sft_data(path: str | Path, limit: int = 0, max_len: int | None = None) -> SFTData:
    """The dataset `ale data build` wrote to `path` (its first `limit` rows; 0: all)."""
    from rl.data.build import load_sft_dataset

    ds = load_sft_dataset(path)
    if limit > 0:
        ds = ds.select(range(min(limit, len(ds))))
    if len(ds) == 0:
        raise ConfigError(f"dataset {path} has no rows: loosen the filters of `ale data build`")
    cols = ds.select_columns(["input_ids", "loss_mask", "task_id", "difficulty", "reward"])
    rows = list(cols)
    longest = max(len(r["input_ids"]) for r in rows)
    if max_len is not None and longest > max_len:
        raise ConfigError(
            f"dataset {path} has a row of {longest} tokens, more than model.max_len={max_len}: "
            "raise model.max_len or rebuild with --set filters.max_tokens="
            f"{max_len}"
        )
    return SFTData(
        [row_trajectory(r["input_ids"], r["loss_mask"]) for r in rows],
        [str(r["task_id"]) for r in rows],
        torch.tensor([float(r["difficulty"]) for r in rows], dtype=torch.float64),
        torch.tensor([float(r["reward"]) for r in rows], dtype=torch.float64),
    )
