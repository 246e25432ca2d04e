"""IPA loss (arXiv 2512.24873 section 3.2.4): chunk-level, positive-weighted, negative-truncated,
plus imitation on expert chunks. Registered as "ipa" in `rl.algos.registry.LOSSES`."""

from __future__ import annotations

import torch

from rl.algos.batch import ChunkBatch, LossConfig, LossOutput
from rl.algos.ratios import aggregate, chunk_mean, chunk_ratio, mismatch_mask, tokens_of
from rl.algos.registry import LOSSES
from rl.algos.returns import chunk_returns, trajectory_advantages


def ipa_chunk_weights(batch: ChunkBatch, cfg: LossConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-chunk RL weight w_c (no gradient) and the positive flag, both (C,).

    T+ (A > 0):  w_c = G_c * m_c
    T- (A <= 0): w_c = stopgrad(clip(rho_c, 0, 1)) * G_c * m_c
    so that L_chunk = - mean_c w_c log pi_theta(c) has the paper's gradient.
    """
    c = batch.num_chunks
    returns = chunk_returns(batch, cfg)
    positive = trajectory_advantages(batch, cfg)[batch.chunk_traj] > 0
    rho = chunk_ratio(batch.logp, batch.logp_old, batch.chunk_id, c).detach()
    mask = mismatch_mask(batch.logp_old, batch.logp_rollout, batch.chunk_id, c, cfg.mismatch_cap)
    trust = torch.where(positive, torch.ones_like(rho), rho.clamp(0.0, 1.0))
    return trust * returns * mask, positive


def imitation_loss(batch: ChunkBatch, cfg: LossConfig) -> torch.Tensor:
    """L_IL = - mean over expert chunks c* of G_{c*} log pi_theta(c*)  (scalar, 0 without experts).

    The objective term of the paper, lambda_IL * G * log pi(c*), is maximised; we minimise its
    negative. G comes from the expert's own source (its reward and length).
    """
    returns = chunk_returns(batch, cfg).detach()
    values = tokens_of(returns, batch.chunk_id) * batch.logp
    return -aggregate(values, batch.chunk_id, batch.chunk_expert, cfg.agg)


@LOSSES.register("ipa")
def ipa_loss(batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
    """L_IPA = lambda_IL * L_IL + lambda_RL * L_chunk.

    L_chunk = - (1/|S|) sum_{c in S} w_c log pi_theta(c), S = sampled (non-expert) chunks,
    log pi_theta(c) = token mean of log-probs ("chunk") or each token on its own ("token").
    """
    weights, positive = ipa_chunk_weights(batch, cfg)
    sampled = ~batch.chunk_expert
    values = tokens_of(weights, batch.chunk_id) * batch.logp
    chunk_term = -aggregate(values, batch.chunk_id, sampled, cfg.agg)
    il_term = imitation_loss(batch, cfg)
    loss = cfg.lambda_il * il_term + cfg.lambda_rl * chunk_term
    return LossOutput(loss, _metrics(batch, cfg, weights, positive, chunk_term, il_term))


def _metrics(
    batch: ChunkBatch,
    cfg: LossConfig,
    weights: torch.Tensor,
    positive: torch.Tensor,
    chunk_term: torch.Tensor,
    il_term: torch.Tensor,
) -> dict[str, float]:
    with torch.no_grad():
        c = batch.num_chunks
        sampled = ~batch.chunk_expert
        n = max(int(sampled.sum()), 1)
        rho = chunk_ratio(batch.logp, batch.logp_old, batch.chunk_id, c)
        mask = mismatch_mask(
            batch.logp_old, batch.logp_rollout, batch.chunk_id, c, cfg.mismatch_cap
        )
        logp_c = chunk_mean(batch.logp, batch.chunk_id, c)
        return {
            "loss/chunk": float(chunk_term.detach()),
            "loss/il": float(il_term.detach()),
            "chunks/positive_frac": float((positive & sampled).sum()) / n,
            "chunks/masked_frac": float(((mask == 0) & sampled).sum()) / n,
            "chunks/ratio_mean": float((rho * sampled).sum()) / n,
            "chunks/neg_clipped_frac": float(((rho > 1) & ~positive & sampled).sum()) / n,
            "chunks/logp_mean": float((logp_c * sampled).sum()) / n,
            # share of the RL term's weight sum_c |w_c| carried by T- (0 when failures have G = 0)
            "chunks/neg_weight_share": float((weights.abs() * (~positive & sampled)).sum())
            / max(float((weights.abs() * sampled).sum()), 1e-12),
        }
