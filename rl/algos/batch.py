"""The one input and output type of every policy loss: a batch of chunks and scalar settings.

Shapes: B rows of T tokens (a row is a packed trajectory or one chunk, see `rl.packing`),
C chunks in the whole batch, N return sources (trajectories; an expert prefix is its own
source). Chunk ids are global, so the same chunks give the same loss in any row layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rl.loss_config import Aggregation, LossConfig

__all__ = ["Aggregation", "ChunkBatch", "LossConfig", "LossOutput"]


@dataclass
class ChunkBatch:
    """Token and chunk tensors for one loss call.

    Token level, (B, T):
      logp: log pi_theta of each token (requires grad); logp_old: log pi_old (the trainer's
      weights when the batch was sampled); logp_rollout: log mu (the sampler's own log-probs);
      chunk_id: int64 global chunk index in [0, C) for policy tokens, -1 for prompt,
      observation and padding tokens.
    Chunk level, (C,): chunk_traj (int64 index into the N return sources), chunk_pos (int64,
      0-based position k of the chunk in its trajectory), chunk_expert (bool: an expert chunk,
      trained by imitation, never by the RL term).
    Source level, (N,): traj_reward (float, final reward R), traj_len (int64, K chunks),
      traj_group (int64 group id for baselines, -1 for none).
    """

    logp: torch.Tensor
    logp_old: torch.Tensor
    logp_rollout: torch.Tensor
    chunk_id: torch.Tensor
    chunk_traj: torch.Tensor
    chunk_pos: torch.Tensor
    chunk_expert: torch.Tensor
    traj_reward: torch.Tensor
    traj_len: torch.Tensor
    traj_group: torch.Tensor

    @property
    def num_chunks(self) -> int:
        """C, the number of chunks."""
        return int(self.chunk_traj.shape[0])

    def check(self) -> None:
        """Raise ValueError when shapes disagree (cheap; called by `rl.algos.compute_loss`)."""
        shape = self.logp.shape
        for name in ("logp_old", "logp_rollout", "chunk_id"):
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"{name} has shape {tuple(getattr(self, name).shape)}, "
                    f"logp has {tuple(shape)}: token tensors must all be (B, T)"
                )
        c = self.num_chunks
        for name in ("chunk_pos", "chunk_expert"):
            if getattr(self, name).shape != (c,):
                raise ValueError(f"{name} must be ({c},) like chunk_traj")
        n = self.traj_reward.shape
        if self.traj_len.shape != n or self.traj_group.shape != n:
            raise ValueError("traj_reward, traj_len and traj_group must all be (N,)")
        if int(self.chunk_id.max()) >= c:
            raise ValueError(f"chunk_id holds {int(self.chunk_id.max())} but there are {c} chunks")


@dataclass
class LossOutput:
    """A scalar loss (differentiable) and float metrics for logging."""

    loss: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)
