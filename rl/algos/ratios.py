"""Chunk-level statistics of token tensors: means, importance ratios, mismatch masks, and the
aggregation every loss uses. All functions are pure; shapes as in `rl.algos.batch`."""

from __future__ import annotations

import torch

from rl.algos.batch import Aggregation


def chunk_sum(values: torch.Tensor, chunk_id: torch.Tensor, num_chunks: int) -> torch.Tensor:
    """Sum of `values` (B, T) over the tokens of each chunk -> (C,). Tokens with id -1 are ignored."""
    valid = chunk_id >= 0
    flat_ids = chunk_id.clamp(min=0).reshape(-1)
    masked = torch.where(valid, values, torch.zeros_like(values)).reshape(-1)
    return torch.zeros(num_chunks, dtype=values.dtype, device=values.device).index_add(
        0, flat_ids, masked
    )


def chunk_token_counts(chunk_id: torch.Tensor, num_chunks: int) -> torch.Tensor:
    """Number of policy tokens of each chunk, (B, T) int64 -> (C,) int64."""
    valid = (chunk_id >= 0).reshape(-1).long()
    return torch.zeros(num_chunks, dtype=torch.long, device=chunk_id.device).index_add(
        0, chunk_id.clamp(min=0).reshape(-1), valid
    )


def chunk_mean(values: torch.Tensor, chunk_id: torch.Tensor, num_chunks: int) -> torch.Tensor:
    """Token mean of `values` (B, T) inside each chunk -> (C,); an empty chunk gives 0."""
    counts = chunk_token_counts(chunk_id, num_chunks).clamp(min=1).to(values.dtype)
    return chunk_sum(values, chunk_id, num_chunks) / counts


def chunk_ratio(
    logp: torch.Tensor, logp_old: torch.Tensor, chunk_id: torch.Tensor, num_chunks: int
) -> torch.Tensor:
    """Geometric-mean importance ratio of each chunk, (C,), differentiable in `logp`.

    rho_c = exp( (1/|c|) sum_{t in c} (log pi_theta(t) - log pi_old(t)) )   (paper 3.2.4)
    """
    return torch.exp(chunk_mean(logp - logp_old, chunk_id, num_chunks))


def mismatch_mask(
    logp_old: torch.Tensor,
    logp_rollout: torch.Tensor,
    chunk_id: torch.Tensor,
    num_chunks: int,
    cap: float,
) -> torch.Tensor:
    """Train/infer mismatch mask, (C,) float in {0, 1}, no gradient.

    m_c = 1 if exp( (1/|c|) sum_{t in c} (log pi_old(t) - log mu(t)) ) <= H else 0
    """
    with torch.no_grad():
        gap = torch.exp(chunk_mean(logp_old - logp_rollout, chunk_id, num_chunks))
        return (gap <= cap).to(logp_old.dtype)


def tokens_of(chunk_values: torch.Tensor, chunk_id: torch.Tensor) -> torch.Tensor:
    """Broadcast a chunk quantity (C,) to its tokens, (B, T); 0 on non-policy tokens."""
    if chunk_values.numel() == 0:
        return torch.zeros(chunk_id.shape, dtype=chunk_values.dtype, device=chunk_id.device)
    gathered = chunk_values[chunk_id.clamp(min=0)]
    return torch.where(chunk_id >= 0, gathered, torch.zeros_like(gathered))


def aggregate(
    values: torch.Tensor, chunk_id: torch.Tensor, select: torch.Tensor, mode: Aggregation
) -> torch.Tensor:
    """Mean of per-token `values` (B, T) over the chunks flagged in `select` (C,) bool -> ().

    "chunk": (1/|S|) sum_{c in S} (1/|c|) sum_{t in c} v_t   (every chunk weighs the same)
    "token": (1/sum_{c in S}|c|) sum_{c in S} sum_{t in c} v_t   (every token weighs the same)
    An empty selection gives 0 (still attached to the graph of `values`).
    """
    num_chunks = int(select.shape[0])
    sel = select.to(values.dtype)
    if mode == "chunk":
        per_chunk = chunk_mean(values, chunk_id, num_chunks)
        return (per_chunk * sel).sum() / sel.sum().clamp(min=1)
    if mode == "token":
        per_chunk = chunk_sum(values, chunk_id, num_chunks)
        ntok = chunk_token_counts(chunk_id, num_chunks).to(values.dtype)
        return (per_chunk * sel).sum() / (ntok * sel).sum().clamp(min=1)
    raise ValueError(f"aggregation must be 'chunk' or 'token', got {mode!r}")
