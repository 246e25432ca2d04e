"""Chunk returns and trajectory-level advantages (pure tensor functions, no gradient).

Notation (ARCHITECTURE.md section 4, paper arXiv 2512.24873 section 3.2.4): a trajectory has
chunks c_0..c_{K-1} (0-based here) and final reward R.
"""

from __future__ import annotations

import torch

from rl.algos.batch import ChunkBatch, LossConfig


def terminal_chunk_returns(
    traj_reward: torch.Tensor,
    traj_len: torch.Tensor,
    chunk_traj: torch.Tensor,
    chunk_pos: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """G_k = gamma^(K-1-k) * R for a reward paid only at the last chunk.

    traj_reward (N,) float, traj_len (N,) int64, chunk_traj (C,) int64, chunk_pos (C,) int64
    -> (C,) float. Equal to `discounted_returns` with r = R at k = K-1 and 0 elsewhere.
    """
    # paper: G_k = gamma^{K-k} R (1-based k)  ==  gamma^{K-1-k} R (0-based k)
    steps_left = (traj_len[chunk_traj] - 1 - chunk_pos).to(traj_reward.dtype)
    return traj_reward[chunk_traj] * torch.pow(
        torch.as_tensor(gamma, dtype=traj_reward.dtype), steps_left
    )


def discounted_returns(
    chunk_reward: torch.Tensor, chunk_traj: torch.Tensor, chunk_pos: torch.Tensor, gamma: float
) -> torch.Tensor:
    """General chunk returns G_k = r_k + gamma * G_{k+1} (G_K = 0), per trajectory.

    chunk_reward (C,) float, chunk_traj (C,) int64, chunk_pos (C,) int64 -> (C,) float.
    Chunks may come in any order; every chunk of a trajectory must be present.
    """
    # G_k = sum_{j >= k, same trajectory} gamma^(pos_j - pos_k) r_j, as one (C, C) product
    same = chunk_traj[:, None] == chunk_traj[None, :]
    lag = (chunk_pos[None, :] - chunk_pos[:, None]).to(chunk_reward.dtype)
    weight = torch.where(
        same & (lag >= 0),
        torch.pow(torch.as_tensor(gamma, dtype=lag.dtype), lag.clamp(min=0)),
        torch.zeros_like(lag),
    )
    return weight @ chunk_reward


def shaped_rewards(traj_reward: torch.Tensor, failure_reward: float) -> torch.Tensor:
    """R' = R if R > 0 else failure_reward. (N,) -> (N,)."""
    return torch.where(traj_reward > 0, traj_reward, torch.full_like(traj_reward, failure_reward))


def group_stats(values: torch.Tensor, group: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element mean and population std of `values` over its group.

    values (N,) float, group (N,) int64 (-1 = alone: mean 0, std 1) -> ((N,), (N,)).
    """
    grouped = group >= 0
    _, inverse = torch.unique(torch.where(grouped, group, -1), return_inverse=True)
    ngroups = int(inverse.max()) + 1 if inverse.numel() else 0
    ones = grouped.to(values.dtype)
    count = torch.zeros(ngroups, dtype=values.dtype).index_add_(0, inverse, ones)
    total = torch.zeros(ngroups, dtype=values.dtype).index_add_(0, inverse, values * ones)
    mean = (total / count.clamp(min=1))[inverse]
    sq = torch.zeros(ngroups, dtype=values.dtype).index_add_(
        0, inverse, (values - mean) ** 2 * ones
    )
    std = (sq / count.clamp(min=1)).sqrt()[inverse]
    return torch.where(grouped, mean, 0.0), torch.where(grouped, std, 1.0)


def trajectory_advantages(batch: ChunkBatch, cfg: LossConfig) -> torch.Tensor:
    """A_n = R'_n - b_n with b_n the group mean of R' (if `cfg.group_baseline`) else 0. -> (N,)."""
    shaped = shaped_rewards(batch.traj_reward, cfg.failure_reward)
    if not cfg.group_baseline:
        return shaped
    mean, _ = group_stats(shaped, batch.traj_group)
    return shaped - mean


def grpo_advantages(batch: ChunkBatch, cfg: LossConfig) -> torch.Tensor:
    """GRPO: A_n = (R'_n - mean_g) / (std_g + eps), population std (ungrouped: R' / (1 + eps)). (N,)."""
    shaped = shaped_rewards(batch.traj_reward, cfg.failure_reward)
    mean, std = group_stats(shaped, batch.traj_group)
    return (shaped - mean) / (std + cfg.adv_eps)


def chunk_returns(batch: ChunkBatch, cfg: LossConfig) -> torch.Tensor:
    """G_c = gamma^(K-1-k) * A_traj(c) for every chunk, with A from `trajectory_advantages`. (C,)."""
    adv = trajectory_advantages(batch, cfg)
    return terminal_chunk_returns(adv, batch.traj_len, batch.chunk_traj, batch.chunk_pos, cfg.gamma)
