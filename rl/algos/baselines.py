"""Baseline losses with the IPA signature: token-level PPO, GRPO, REINFORCE, TIS.

All act on sampled (non-expert) tokens only and ignore `lambda_il`; every token of chunk c
shares the chunk's advantage. Aggregation follows `cfg.agg`. `ppo_il`, `grpo_il` and
`reinforce_il` add IPA's imitation term on expert chunks, `lambda_il * L_IL`, so an ablation
can give the token-level methods the same expert signal as IPA (one config line).
"""

from __future__ import annotations

import torch

from rl.algos.batch import ChunkBatch, LossConfig, LossOutput
from rl.algos.losses import imitation_loss
from rl.algos.ratios import aggregate, tokens_of
from rl.algos.registry import LOSSES, LossFn
from rl.algos.returns import chunk_returns, grpo_advantages


def clipped_surrogate(
    logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO surrogate per token and the clipped flag, both (B, T).

    r_t = exp(log pi_theta(t) - log pi_old(t));  s_t = min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t)
    (Schulman et al. 2017, eq. 7).
    """
    ratio = torch.exp(logp - logp_old)
    unclipped = ratio * adv
    clipped = ratio.clamp(1.0 - eps, 1.0 + eps) * adv
    return torch.minimum(unclipped, clipped), (clipped < unclipped).detach()


def _out(
    batch: ChunkBatch, cfg: LossConfig, values: torch.Tensor, extra: torch.Tensor | None
) -> LossOutput:
    sampled = ~batch.chunk_expert
    loss = -aggregate(values, batch.chunk_id, sampled, cfg.agg)
    metrics = {"loss/chunk": float(loss.detach())}
    if extra is not None:
        policy = (batch.chunk_id >= 0) & tokens_of(sampled.float(), batch.chunk_id).bool()
        metrics["tokens/clipped_frac"] = (
            float(extra[policy].float().mean()) if policy.any() else 0.0
        )
    return LossOutput(loss, metrics)


@LOSSES.register("ppo")
def ppo_loss(batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
    """Token-level PPO-clip with A_t = G_c (chunk returns, shaped and baselined per `cfg`).

    L = - agg_t min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t)
    """
    adv = tokens_of(chunk_returns(batch, cfg).detach(), batch.chunk_id)
    values, clipped = clipped_surrogate(batch.logp, batch.logp_old, adv, cfg.clip_eps)
    return _out(batch, cfg, values, clipped)


@LOSSES.register("grpo")
def grpo_loss(batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
    """GRPO (Shao et al. 2024, eq. 3 without the KL term): PPO-clip per token with the
    group-normalized trajectory advantage A = (R - mean_g R) / (std_g R + eps), no discount.
    """
    adv_traj = grpo_advantages(batch, cfg).detach()
    adv = tokens_of(adv_traj[batch.chunk_traj], batch.chunk_id)
    values, clipped = clipped_surrogate(batch.logp, batch.logp_old, adv, cfg.clip_eps)
    return _out(batch, cfg, values, clipped)


@LOSSES.register("reinforce")
def reinforce_loss(batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
    """On-policy REINFORCE (Williams 1992): L = - agg_t G_c(t) log pi_theta(t), no ratio."""
    adv = tokens_of(chunk_returns(batch, cfg).detach(), batch.chunk_id)
    return _out(batch, cfg, adv * batch.logp, None)


@LOSSES.register("tis")
def tis_loss(batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
    """Truncated importance sampling against the rollout engine's mu:

    w_t = stopgrad(min(exp(log pi_theta(t) - log mu(t)), C)),  L = - agg_t w_t G_c(t) log pi_theta(t)
    (REINFORCE corrected for sampling from mu, truncated at C = `cfg.tis_cap`.)
    """
    adv = tokens_of(chunk_returns(batch, cfg).detach(), batch.chunk_id)
    weight = torch.exp(batch.logp - batch.logp_rollout).clamp(max=cfg.tis_cap).detach()
    truncated = torch.exp(batch.logp - batch.logp_rollout).detach() > cfg.tis_cap
    return _out(batch, cfg, weight * adv * batch.logp, truncated)


def _with_imitation(name: str, base: LossFn) -> LossFn:
    def fn(batch: ChunkBatch, cfg: LossConfig) -> LossOutput:
        out = base(batch, cfg)
        il_term = imitation_loss(batch, cfg)
        metrics = {**out.metrics, "loss/il": float(il_term.detach())}
        return LossOutput(cfg.lambda_il * il_term + out.loss, metrics)

    fn.__name__ = fn.__qualname__ = f"{base.__name__}_il"
    fn.__doc__ = f"""`{name}` plus IPA's imitation term: L = lambda_IL * L_IL + L_{name}.

    L_IL = - agg over expert chunks c* of G_{{c*}} log pi_theta(c*) (`rl.algos.losses.imitation_loss`).
    """
    return fn


for _name, _fn in (("ppo", ppo_loss), ("grpo", grpo_loss), ("reinforce", reinforce_loss)):
    LOSSES.register(f"{_name}_il")(_with_imitation(_name, _fn))
