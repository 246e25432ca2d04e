"""Stage 2 of `ale sft`, adaptive value revisiting: per-sample weights from a value score.

At the start of every stage-2 epoch, with l_i the current model's mean loss per policy token
on sample i (of N):

    rho_i = l_i / median_j l_j                                 (1 if the median is 0)
    H_i   = rho_i                       if rho_i <= cap        hard for the current model ...
          = cap * exp(-(rho_i - cap))   otherwise              ... but learnable (not an outlier)
    D_i   = eps + difficulty_i          difficulty = 1 - the teacher's pass rate on the task
    S_i   = eps + clip(reward_i, 0, 1)  success of the sample
    V_i   = 1 / n(task_i)               novelty: n = samples of the same task in the dataset
    v_i   = H_i^a * D_i^b * S_i^c * V_i^d
    w_i   = (1 - u) * N * v_i / sum_j v_j + u                  (mean 1; u = uniform_mix)

The epoch draws N samples with replacement, sample i with probability w_i / N: hard, valuable
samples are revisited more, samples the model already fits are seen less, and every sample
keeps at least u / N. a, b, c, d, cap, eps and u are `stage2.*` (`rl.sft.config`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from rl.sft.config import Stage2Section


def hardness(losses: torch.Tensor, cap: float) -> torch.Tensor:
    """H (N,) of per-sample losses (N,): the loss relative to the median (robust to the
    outliers it is meant to damp), decaying past `cap`."""
    mid = torch.quantile(losses.to(torch.float64), 0.5)
    rho = losses / mid if float(mid) > 0 else torch.ones_like(losses)
    return torch.where(rho <= cap, rho, cap * torch.exp(-(rho - cap)))


def value_weights(
    losses: torch.Tensor,
    difficulty: torch.Tensor,
    reward: torch.Tensor,
    task_ids: Sequence[str],
    cfg: Stage2Section,
) -> torch.Tensor:
    """w (N,) float64, mean 1, from per-sample losses, difficulty and reward (each (N,)) and the
    samples' task ids (the module doc has the formula)."""
    n = losses.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.float64)
    losses, difficulty, reward = (t.to(torch.float64) for t in (losses, difficulty, reward))
    counts = Counter(task_ids)
    novelty = torch.tensor([1.0 / counts[t] for t in task_ids], dtype=torch.float64)
    value = (
        hardness(losses, cfg.learnable_cap) ** cfg.loss_exp
        * (cfg.eps + difficulty) ** cfg.difficulty_exp
        * (cfg.eps + reward.clamp(0.0, 1.0)) ** cfg.success_exp
        * novelty**cfg.novelty_exp
    )
    total = value.sum()
    share = value / total if float(total) > 0 else torch.full_like(value, 1.0 / n)
    return (1.0 - cfg.uniform_mix) * n * share + cfg.uniform_mix


def revisit(weights: torch.Tensor, generator: torch.Generator) -> list[int]:
    """One stage-2 epoch: N sample indices drawn with replacement, P(i) = w_i / sum w."""
    n = weights.shape[0]
    picks = torch.multinomial(weights.to(torch.float64), n, replacement=True, generator=generator)
    return [int(i) for i in picks]


def effective_size(weights: torch.Tensor) -> float:
    """Kish's effective sample size of the weights as a share of N: (sum w)^2 / (N sum w^2)."""
    if weights.numel() == 0:
        return 0.0
    return float(weights.sum() ** 2 / (weights.numel() * (weights**2).sum()))
