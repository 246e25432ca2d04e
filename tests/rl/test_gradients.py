"""Gradient checks: what each kind of chunk contributes to d L / d theta."""

from __future__ import annotations

import math

import pytest
import torch

from rl.algos import LossConfig, compute_loss
from rl.packing import Chunk, Trajectory, pack, token_logprobs
from rl.toy.model import TinyLM
from tests.rl.test_algos import one_row


def grad_of(loss: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(loss, leaf)
    return g


def test_positive_chunk_gradient_is_return_times_grad_log_pi() -> None:
    """Through a real model: dL/dtheta == -G * d log pi(c) / dtheta (minimising L ascends)."""
    torch.manual_seed(0)
    model = TinyLM(12, dim=16, layers=1, heads=2, max_len=32)
    traj = Trajectory(
        [1, 5, 6],
        [Chunk([7, 8, 2], [-2.0, -2.0, -2.0], [4, 9]), Chunk([10, 2], [-2.0, -2.0])],
        reward=1.0,
    )
    batch = pack([traj])
    logp = token_logprobs(model, batch)
    cb = batch.chunk_batch(logp, logp.detach())
    cb.logp_rollout = cb.logp_old.clone()  # no train/infer gap: m_c = 1
    gamma = 0.7
    loss = compute_loss("ipa", cb, LossConfig(gamma=gamma, group_baseline=False)).loss
    params = list(model.parameters())
    got = torch.autograd.grad(loss, params, retain_graph=True)
    # chunk 0 has G = gamma^(K-1-0) = 0.7, chunk 1 has G = 1; log pi(c) = token mean; 2 chunks
    mask0, mask1 = batch.chunk_id == 0, batch.chunk_id == 1
    log_pi = [(logp * m).sum() / m.sum() for m in (mask0, mask1)]
    want = torch.autograd.grad(-(gamma * log_pi[0] + 1.0 * log_pi[1]) / 2, params)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_positive_chunk_token_gradient_by_hand() -> None:
    b = one_row([0.0, -1.0, -2.0, -0.5], [-1, 0, 0, 0], [1.0], [3], [0], [0])
    loss = compute_loss("ipa", b, LossConfig(gamma=0.5, group_baseline=False)).loss
    # G = 0.5^2 = 0.25, one chunk of 3 tokens: dL/dlogp_t = -0.25 / 3
    assert grad_of(loss, b.logp)[0].tolist() == pytest.approx([0.0] + [-0.25 / 3] * 3)


def test_negative_chunk_ratio_above_one_is_clipped_and_carries_no_ratio_gradient() -> None:
    # rho = exp(mean(logp - old)) = exp(0.5) > 1, G = -1 (failure reward)
    b = one_row([0.0, -1.0, -1.0], [-1, 0, 0], [0.0], [1], [0], [0], logp_old=[0.0, -1.5, -1.5])
    cfg = LossConfig(failure_reward=-1.0, group_baseline=False)
    got = grad_of(compute_loss("ipa", b, cfg).loss, b.logp)
    # clip(rho, 0, 1) = 1 is a constant: dL/dlogp_t = -(1 * G) / n = 1 / 2
    assert got[0].tolist() == pytest.approx([0.0, 0.5, 0.5])
    # had the ratio not been stopped, d/dlogp_t [-rho G mean(logp)] would add rho-terms:
    rho = torch.exp((b.logp[0, 1:] - b.logp_old[0, 1:]).mean())
    leaky = grad_of(rho * b.logp[0, 1:].mean(), b.logp)
    assert not torch.allclose(leaky, got)


def test_negative_chunk_ratio_below_one_keeps_ratio_as_constant_weight() -> None:
    b = one_row([0.0, -2.0, -2.0], [-1, 0, 0], [0.0], [1], [0], [0], logp_old=[0.0, -1.0, -1.0])
    got = grad_of(
        compute_loss("ipa", b, LossConfig(failure_reward=-1.0, group_baseline=False)).loss, b.logp
    )
    w = math.exp(-1.0) / 2  # -(rho * G) / n with rho = e^-1, G = -1, n = 2
    assert got[0].tolist() == pytest.approx([0.0, w, w])


def test_masked_chunk_has_no_gradient() -> None:
    # exp(mean(old - mu)) = exp(1) > H = 2: the chunk is masked out
    b = one_row(
        [0.0, -1.0], [-1, 0], [1.0], [1], [0], [0], logp_old=[0.0, -1.0], logp_rollout=[0.0, -2.0]
    )
    loss = compute_loss("ipa", b, LossConfig(mismatch_cap=2.0, group_baseline=False)).loss
    assert torch.count_nonzero(grad_of(loss, b.logp)) == 0


def test_expert_chunk_gradient_is_lambda_il_times_return() -> None:
    b = one_row([0.0, -1.0, -3.0], [-1, 0, 0], [1.0], [2], [0], [0], expert=[True])
    cfg = LossConfig(gamma=0.5, lambda_il=0.4)
    got = grad_of(compute_loss("ipa", b, cfg).loss, b.logp)
    # G* = 0.5^(2-1-0) = 0.5, 2 tokens: dL/dlogp_t = -0.4 * 0.5 / 2
    assert got[0].tolist() == pytest.approx([0.0, -0.1, -0.1])
    # baselines never train on expert chunks
    for name in ("ppo", "grpo", "reinforce", "tis"):
        assert torch.count_nonzero(grad_of(compute_loss(name, b, cfg).loss, b.logp)) == 0
