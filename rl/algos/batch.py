"""The one input and output type of every policy loss: a batch of chunks and scalar settings.

Shapes: B rows of T tokens (a row is a packed trajectory or one chunk, see `rl.packing`),
C chunks in the whole batch, N return sources (trajectories; an expert prefix is its own
source). Chunk ids are global, so the same chunks give the same loss in any row layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

Aggregation = Literal["chunk", "token"]


@dataclass(frozen=True)
class LossConfig:
    """Hyper-parameters, all scalars. Defaults are ours (the paper gives no numbers).

    Default failure reward 0 and no group baseline. With R in {0, 1} a failed trajectory then
    has G = 0 and carries no gradient, so the negative-truncated T- term is inert and IPA is
    return-weighted supervised learning on successes (plus imitation on expert prefixes).
    Why: (1) the T- term minimises +|G| log pi(c), which is unbounded below; the clipped
    ratio only damps it inside one update (rho is measured against pi_old, which is refreshed
    every iteration), so on a sparse task where nearly every early episode fails it mostly
    pushes probability off whatever the policy does, towards other (also failing) text;
    (2) the positive term alone is the clean object the paper's gradient checks describe
    (grad = G * grad log pi), and expert-prefix resampling supplies successes from the start,
    so no baseline is needed to get signal; (3) a group baseline makes every success in an
    all-success group weightless, which stops reinforcing behaviour that is already right.
    To give T- a gradient (what the clipped ratio is for), set `failure_reward < 0` or
    `group_baseline=True`; `python -m rl.recipes.compare_toy --variants ipa,
    ipa-failure-reward,ipa-group-baseline` measures the three on the toy task. GRPO always
    normalizes within groups, whatever these say.
    """

    gamma: float = 1.0
    """Chunk discount: G_k = gamma^(K-1-k) R (k 0-based, K chunks)."""
    mismatch_cap: float = 2.0
    """H: a chunk is masked when exp(mean_t(log pi_old - log mu)) > H."""
    lambda_il: float = 1.0
    """Weight of the imitation term on expert chunks."""
    lambda_rl: float = 1.0
    """Weight of the chunk RL term on sampled chunks."""
    clip_eps: float = 0.2
    """PPO / GRPO clip range: ratio kept in [1 - eps, 1 + eps]."""
    tis_cap: float = 2.0
    """TIS: the per-token importance weight pi/mu is truncated at this value."""
    failure_reward: float = 0.0
    """Reward used for a trajectory whose final reward is <= 0."""
    group_baseline: bool = False
    """Subtract the mean shaped reward of the trajectory's group (same start state)."""
    adv_eps: float = 1e-6
    """GRPO: A = (R - mean) / (std + adv_eps)."""
    agg: Aggregation = "chunk"
    """"chunk": token-mean inside each chunk, then mean over chunks; "token": mean over tokens."""

    def __post_init__(self) -> None:
        if self.agg not in ("chunk", "token"):
            raise ValueError(f"agg must be 'chunk' or 'token', got {self.agg!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.mismatch_cap <= 0 or self.tis_cap <= 0 or self.clip_eps <= 0:
            raise ValueError("mismatch_cap, tis_cap and clip_eps must be > 0")


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
                raise ValueError(f"{name} has shape {tuple(getattr(self, name).shape)}, "
                                 f"logp has {tuple(shape)}: token tensors must all be (B, T)")
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
