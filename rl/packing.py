"""Trajectory packing: all chunks of a trajectory in one row, so one forward pass serves them all.

A row is `prompt, action_1, obs_1, action_2, obs_2, ..., action_K`; `chunk_id` marks the policy
(action) tokens with a global chunk index and every prompt / observation / padding token with -1.
`per_chunk` builds the reference layout (one row per chunk: its whole context, then its action,
only that action marked); both layouts number chunks and return sources the same way, so a loss
over either gives the same value and gradients (up to float rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from rl.algos.batch import ChunkBatch

#: (input_ids (B, L) int64, attention (B, L) bool) -> logits (B, L, V)
LogitsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Chunk:
    """One agent turn: its policy tokens, the sampler's log-probs mu, then the observation tokens."""

    action_ids: list[int]
    rollout_logp: list[float]
    obs_ids: list[int] = field(default_factory=list)
    expert: bool = False
    """Replayed from an expert trajectory: imitation target, not an RL sample."""

    def __post_init__(self) -> None:
        if len(self.rollout_logp) != len(self.action_ids):
            raise ValueError("rollout_logp needs one log-prob per action token")


@dataclass
class Trajectory:
    """A tokenized episode. Chunks are in order; expert chunks (a replayed prefix) come first."""

    prompt_ids: list[int]
    chunks: list[Chunk]
    reward: float
    group: int = -1
    """Group id for baselines (episodes from the same start state); -1 for none."""
    expert_len: int = 0
    """K* of the expert trajectory the expert chunks come from (their returns use it)."""
    expert_reward: float = 1.0


@dataclass
class PackedBatch:
    """Rows of tokens plus the chunk and source tables of `rl.algos.ChunkBatch`.

    input_ids (B, L) int64, attention (B, L) bool (False = padding), chunk_id (B, L) int64,
    logp_rollout (B, L) float (mu at policy tokens, 0 elsewhere); chunk_traj / chunk_pos /
    chunk_expert (C,); traj_reward / traj_len / traj_group (N,).
    """

    input_ids: torch.Tensor
    attention: torch.Tensor
    chunk_id: torch.Tensor
    logp_rollout: torch.Tensor
    chunk_traj: torch.Tensor
    chunk_pos: torch.Tensor
    chunk_expert: torch.Tensor
    traj_reward: torch.Tensor
    traj_len: torch.Tensor
    traj_group: torch.Tensor

    @property
    def num_tokens(self) -> int:
        """Real (non-padding) tokens in the batch."""
        return int(self.attention.sum())

    def chunk_batch(self, logp: torch.Tensor, logp_old: torch.Tensor) -> ChunkBatch:
        """The loss input, given log pi_theta and log pi_old of every token, (B, L)."""
        return ChunkBatch(
            logp,
            logp_old,
            self.logp_rollout,
            self.chunk_id,
            self.chunk_traj,
            self.chunk_pos,
            self.chunk_expert,
            self.traj_reward,
            self.traj_len,
            self.traj_group,
        )


def _tables(trajs: Sequence[Trajectory]) -> dict[str, torch.Tensor]:
    """Chunk -> source tables shared by both layouts (sources: sampled part, then expert part)."""
    chunk_traj: list[int] = []
    chunk_pos: list[int] = []
    chunk_expert: list[bool] = []
    reward: list[float] = []
    length: list[int] = []
    group: list[int] = []
    for traj in trajs:
        if not traj.prompt_ids:
            raise ValueError(
                "a trajectory needs at least one prompt token (e.g. <bos>) before "
                "its first action: position 0 has no log-prob"
            )
        own = len(reward)
        reward.append(traj.reward)
        length.append(len(traj.chunks))
        group.append(traj.group)
        expert_src = -1
        if any(c.expert for c in traj.chunks):
            expert_src = len(reward)
            reward.append(traj.expert_reward)
            group.append(-1)
            length.append(max(traj.expert_len, sum(c.expert for c in traj.chunks)))
        for pos, chunk in enumerate(traj.chunks):
            chunk_traj.append(expert_src if chunk.expert else own)
            chunk_pos.append(pos)
            chunk_expert.append(chunk.expert)
    return {
        "chunk_traj": torch.tensor(chunk_traj, dtype=torch.long),
        "chunk_pos": torch.tensor(chunk_pos, dtype=torch.long),
        "chunk_expert": torch.tensor(chunk_expert, dtype=torch.bool),
        "traj_reward": torch.tensor(reward, dtype=torch.float32),
        "traj_len": torch.tensor(length, dtype=torch.long),
        "traj_group": torch.tensor(group, dtype=torch.long),
    }


def _rows_to_batch(
    rows: list[tuple[list[int], list[int], list[float]]],
    pad_id: int,
    tables: dict[str, torch.Tensor],
) -> PackedBatch:
    width = max((len(ids) for ids, _, _ in rows), default=0)
    ids_t = torch.full((len(rows), width), pad_id, dtype=torch.long)
    cid_t = torch.full((len(rows), width), -1, dtype=torch.long)
    mu_t = torch.zeros((len(rows), width), dtype=torch.float32)
    att_t = torch.zeros((len(rows), width), dtype=torch.bool)
    for r, (ids, cids, mus) in enumerate(rows):
        ids_t[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        cid_t[r, : len(ids)] = torch.tensor(cids, dtype=torch.long)
        mu_t[r, : len(ids)] = torch.tensor(mus, dtype=torch.float32)
        att_t[r, : len(ids)] = True
    return PackedBatch(ids_t, att_t, cid_t, mu_t, **tables)


def pack(trajs: Sequence[Trajectory], pad_id: int = 0) -> PackedBatch:
    """One right-padded row per trajectory; chunk ids numbered trajectory by trajectory."""
    rows: list[tuple[list[int], list[int], list[float]]] = []
    next_id = 0
    for traj in trajs:
        ids, cids, mus = (
            list(traj.prompt_ids),
            [-1] * len(traj.prompt_ids),
            [0.0] * len(traj.prompt_ids),
        )
        for chunk in traj.chunks:
            ids += chunk.action_ids + chunk.obs_ids
            cids += [next_id] * len(chunk.action_ids) + [-1] * len(chunk.obs_ids)
            mus += list(chunk.rollout_logp) + [0.0] * len(chunk.obs_ids)
            next_id += 1
        rows.append((ids, cids, mus))
    return _rows_to_batch(rows, pad_id, _tables(trajs))


def per_chunk(trajs: Sequence[Trajectory], pad_id: int = 0) -> PackedBatch:
    """Reference layout: one row per chunk (its full context, then its action); same numbering."""
    rows: list[tuple[list[int], list[int], list[float]]] = []
    next_id = 0
    for traj in trajs:
        context = list(traj.prompt_ids)
        for chunk in traj.chunks:
            rows.append(
                (
                    context + chunk.action_ids,
                    [-1] * len(context) + [next_id] * len(chunk.action_ids),
                    [0.0] * len(context) + list(chunk.rollout_logp),
                )
            )
            context = context + chunk.action_ids + chunk.obs_ids
            next_id += 1
    return _rows_to_batch(rows, pad_id, _tables(trajs))


def token_logprobs(logits_fn: LogitsFn, batch: PackedBatch) -> torch.Tensor:
    """log p(token_i | tokens_<i) for every position, (B, L); position 0 and padding get 0."""
    logits = logits_fn(batch.input_ids, batch.attention)
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = logp.gather(-1, batch.input_ids[:, 1:, None]).squeeze(-1)
    out = torch.cat([torch.zeros_like(picked[:, :1]), picked], dim=1)
    return torch.where(batch.attention, out, torch.zeros_like(out))
