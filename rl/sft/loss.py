"""The SFT loss: weighted negative log-likelihood of the policy's tokens, a pure function.

    L = - sum_i w_i * sum_{t in policy tokens of i} log pi_theta(t) / T

T = policy tokens of the whole step (all micro-batches), so micro-batch losses add up to the
full batch's loss and their gradients to its gradient. With every w_i = 1 this is the mean
token NLL (stage 1); stage 2 draws samples by weight instead (`rl.sft.weights`) and trains the
draws with w = 1.
"""

from __future__ import annotations

import torch


def weighted_nll(
    logp: torch.Tensor, policy: torch.Tensor, weight: torch.Tensor, total_tokens: int
) -> torch.Tensor:
    """logp (B, L) log pi_theta of each token, policy (B, L) bool (the loss mask), weight (B,)
    -> scalar loss, normalised by `total_tokens` (the step's policy tokens)."""
    per_row = (logp * policy).sum(dim=1)
    return -(weight.to(logp.dtype) * per_row).sum() / max(total_tokens, 1)


def per_sample_nll(logp: torch.Tensor, policy: torch.Tensor) -> torch.Tensor:
    """(B,) mean NLL per policy token of each row (0 for a row with none)."""
    n = policy.sum(dim=1)
    return -(logp * policy).sum(dim=1) / n.clamp(min=1)
