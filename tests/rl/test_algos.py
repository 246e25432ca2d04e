"""Hand-computed values of every IPA piece and baseline, and vectorized == reference loop."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from rl.algos import LOSSES, AlgoError, ChunkBatch, LossConfig, Registry, compute_loss
from rl.algos.ratios import aggregate, chunk_ratio, mismatch_mask
from rl.algos.returns import (
    discounted_returns,
    group_stats,
    grpo_advantages,
    terminal_chunk_returns,
)
from tests.rl.reference import random_batch, ref_discounted_returns, ref_loss

NO_BASELINE: dict[str, Any] = {"group_baseline": False}


def one_row(
    logp: list[float],
    chunk_id: list[int],
    reward: list[float],
    length: list[int],
    chunk_traj: list[int],
    chunk_pos: list[int],
    expert: list[bool] | None = None,
    logp_old: list[float] | None = None,
    logp_rollout: list[float] | None = None,
    group: list[int] | None = None,
) -> ChunkBatch:
    """A batch of one row, written out by hand."""
    lp = torch.tensor([logp], dtype=torch.float64, requires_grad=True)
    old = torch.tensor([logp_old if logp_old is not None else logp], dtype=torch.float64)
    mu = torch.tensor([logp_rollout], dtype=torch.float64) if logp_rollout is not None else old
    c = len(chunk_traj)
    return ChunkBatch(
        lp,
        old,
        mu,
        torch.tensor([chunk_id]),
        torch.tensor(chunk_traj),
        torch.tensor(chunk_pos),
        torch.tensor(expert if expert is not None else [False] * c),
        torch.tensor(reward, dtype=torch.float64),
        torch.tensor(length),
        torch.tensor(group if group is not None else [-1] * len(reward)),
    )


def test_terminal_returns_by_hand() -> None:
    # R = 1, K = 3, gamma = 0.5 -> G = gamma^(K-1-k) R = [0.25, 0.5, 1]
    g = terminal_chunk_returns(
        torch.tensor([1.0]),
        torch.tensor([3]),
        torch.tensor([0, 0, 0]),
        torch.tensor([0, 1, 2]),
        0.5,
    )
    assert g.tolist() == [0.25, 0.5, 1.0]


def test_general_returns_by_hand() -> None:
    # r = [1, 0, 2] in one trajectory, gamma 0.5: G_2 = 2, G_1 = 0 + 1 = 1, G_0 = 1 + 0.5 = 1.5;
    # a second trajectory (one chunk, r = 3) is independent of the first.
    g = discounted_returns(
        torch.tensor([1.0, 0.0, 2.0, 3.0]),
        torch.tensor([0, 0, 0, 1]),
        torch.tensor([0, 1, 2, 0]),
        0.5,
    )
    assert g.tolist() == [1.5, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("seed", range(20))
def test_returns_match_reference_loop(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    traj = torch.randint(0, 4, (12,), generator=gen)
    pos = torch.zeros_like(traj)
    for n in range(4):  # positions 0..K-1 inside each trajectory
        idx = (traj == n).nonzero().flatten()
        pos[idx] = torch.randperm(len(idx), generator=gen)
    rewards = torch.randn(12, generator=gen, dtype=torch.float64)
    gamma = float(torch.rand(1, generator=gen))
    fast = discounted_returns(rewards, traj, pos, gamma)
    slow = ref_discounted_returns(rewards.tolist(), traj.tolist(), pos.tolist(), gamma)
    assert fast.tolist() == pytest.approx(slow, abs=1e-12)
    # a reward paid only at the last chunk: the closed form gives the same returns
    length = torch.bincount(traj, minlength=4)
    terminal = torch.where(pos == length[traj] - 1, rewards, torch.zeros_like(rewards))
    r_traj = torch.zeros(4, dtype=torch.float64).index_add(0, traj, terminal)
    closed = terminal_chunk_returns(r_traj, length, traj, pos, gamma)
    assert closed.tolist() == pytest.approx(discounted_returns(terminal, traj, pos, gamma).tolist())


def test_ratio_is_geometric_mean_by_hand() -> None:
    # chunk 0: log-ratios 0.2 and 0.8 -> exp(0.5); chunk 1: one token, log-ratio -1 -> exp(-1)
    logp = torch.tensor([[0.0, -1.0, -2.0, -3.0]])
    old = torch.tensor([[0.0, -1.2, -2.8, -2.0]])
    rho = chunk_ratio(logp, old, torch.tensor([[-1, 0, 0, 1]]), 2)
    assert rho.tolist() == pytest.approx([math.exp(0.5), math.exp(-1.0)])


def test_mismatch_mask_by_hand() -> None:
    # gaps: exp(ln 3) = 3 > H = 2 -> 0;  exp((0 + ln 2) / 2) = 1.414 <= 2 -> 1;  exactly H -> 1
    old = torch.tensor([[math.log(3), math.log(3), 0.0, math.log(2), math.log(2)]])
    mu = torch.zeros_like(old)
    m = mismatch_mask(old, mu, torch.tensor([[0, 0, 1, 1, 2]]), 3, cap=2.0)
    assert m.tolist() == [0.0, 1.0, 1.0]


def test_positive_term_by_hand() -> None:
    # R = 1, K = 2, gamma = 0.5: G = [0.5, 1]; log pi(c0) = mean(-1, -3) = -2, log pi(c1) = -0.5
    # L = -(1/2) (0.5 * -2 + 1 * -0.5) = 0.75
    b = one_row([0.0, -1.0, -3.0, -0.5], [-1, 0, 0, 1], [1.0], [2], [0, 0], [0, 1])
    out = compute_loss("ipa", b, LossConfig(gamma=0.5, **NO_BASELINE))
    assert float(out.loss.detach()) == pytest.approx(0.75)
    # per-token aggregation: -(0.5 * -1 + 0.5 * -3 + 1 * -0.5) / 3 = 2.5 / 3
    out = compute_loss("ipa", b, LossConfig(gamma=0.5, agg="token", **NO_BASELINE))
    assert float(out.loss.detach()) == pytest.approx(2.5 / 3)


@pytest.mark.parametrize(
    ("logp", "old", "expected"),
    [
        # rho = exp(0.5) > 1 -> clipped to 1: L = -(1 * G * mean logp) = -(-1 * -1) = -1
        ([-1.0, -1.0], [-1.5, -1.5], -1.0),
        # rho = exp(-1) < 1 -> kept: L = -(e^-1 * -1 * -2) = -2 e^-1
        ([-2.0, -2.0], [-1.0, -1.0], -2 * math.exp(-1.0)),
    ],
)
def test_negative_term_by_hand(logp: list[float], old: list[float], expected: float) -> None:
    b = one_row([0.0, *logp], [-1, 0, 0], [0.0], [1], [0], [0], logp_old=[0.0, *old])
    out = compute_loss("ipa", b, LossConfig(failure_reward=-1.0, **NO_BASELINE))
    assert float(out.loss.detach()) == pytest.approx(expected)


def test_failure_reward_zero_gives_negatives_no_gradient() -> None:
    b = one_row([0.0, -1.0, -2.0], [-1, 0, 0], [0.0], [1], [0], [0])
    out = compute_loss("ipa", b, LossConfig(failure_reward=0.0, **NO_BASELINE))
    out.loss.backward()
    assert b.logp.grad is not None and torch.count_nonzero(b.logp.grad) == 0


def test_imitation_term_by_hand() -> None:
    # expert source R* = 1, K* = 4, gamma 0.9: chunks at k = 0, 1 get G = 0.729, 0.81;
    # log pi = -1, -2: L_IL = -(1/2)(0.729 * -1 + 0.81 * -2) = 1.1745; lambda_IL = 0.5
    b = one_row([0.0, -1.0, -2.0], [-1, 0, 1], [1.0], [4], [0, 0], [0, 1], expert=[True, True])
    out = compute_loss("ipa", b, LossConfig(gamma=0.9, lambda_il=0.5))
    assert float(out.loss.detach()) == pytest.approx(0.5 * 1.1745)
    assert out.metrics["loss/il"] == pytest.approx(1.1745)


def test_group_baseline_and_grpo_by_hand() -> None:
    reward = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0])
    group = torch.tensor([0, 0, 0, 0, -1])
    mean, std = group_stats(reward, group)
    assert mean.tolist() == pytest.approx([0.25] * 4 + [0.0])
    assert std.tolist() == pytest.approx([math.sqrt(0.25 * 0.75)] * 4 + [1.0])
    b = one_row(
        [0.0] * 6,
        [-1, 0, 1, 2, 3, 4],
        reward.tolist(),
        [1] * 5,
        [0, 1, 2, 3, 4],
        [0] * 5,
        group=group.tolist(),
    )
    adv = grpo_advantages(b, LossConfig(adv_eps=0.0))
    s = math.sqrt(0.1875)
    assert adv.tolist() == pytest.approx([0.75 / s, -0.25 / s, -0.25 / s, -0.25 / s, 1.0])


def test_ppo_and_tis_by_hand() -> None:
    # token ratio exp(0.5) = 1.6487; A = +1 -> min(1.6487, 1.2) = 1.2; loss = -1.2
    b = one_row([0.0, -1.0], [-1, 0], [1.0], [1], [0], [0], logp_old=[0.0, -1.5])
    assert float(compute_loss("ppo", b, LossConfig(**NO_BASELINE)).loss.detach()) == pytest.approx(
        -1.2
    )
    # A = -1 (failure reward): min(-1.6487, -1.2) = -1.6487
    b = one_row([0.0, -1.0], [-1, 0], [0.0], [1], [0], [0], logp_old=[0.0, -1.5])
    cfg = LossConfig(failure_reward=-1.0, **NO_BASELINE)
    assert float(compute_loss("ppo", b, cfg).loss.detach()) == pytest.approx(math.exp(0.5))
    # TIS: pi/mu = e > cap 2 -> weight 2; value 2 * 1 * -1 -> loss 2
    b = one_row([0.0, -1.0], [-1, 0], [1.0], [1], [0], [0], logp_rollout=[0.0, -2.0])
    assert float(compute_loss("tis", b, LossConfig(**NO_BASELINE)).loss.detach()) == pytest.approx(
        2.0
    )
    # REINFORCE: -G log pi = 1
    assert float(
        compute_loss("reinforce", b, LossConfig(**NO_BASELINE)).loss.detach()
    ) == pytest.approx(1)


CONFIGS = [
    LossConfig(),
    LossConfig(group_baseline=True),
    LossConfig(agg="token", gamma=0.9),
    LossConfig(failure_reward=-1.0, group_baseline=False, gamma=0.8, lambda_il=0.3),
    LossConfig(failure_reward=-0.5, agg="token", lambda_rl=2.0, mismatch_cap=1.2, clip_eps=0.1),
]


@pytest.mark.parametrize("name", LOSSES.names())
@pytest.mark.parametrize(
    "cfg", CONFIGS, ids=lambda c: f"{c.agg}-{c.failure_reward}-{c.group_baseline}"
)
@pytest.mark.parametrize("seed", range(12))
def test_vectorized_equals_reference_loop(name: str, cfg: LossConfig, seed: int) -> None:
    b = random_batch(seed, with_expert=seed % 3 != 0)
    assert float(compute_loss(name, b, cfg).loss.detach()) == pytest.approx(
        ref_loss(name, b, cfg), abs=1e-10
    )


def test_random_batches_exercise_every_branch() -> None:
    """The reference comparison is only meaningful if masked chunks and clipped negatives occur."""
    masked = clipped = 0
    for seed in range(12):
        b = random_batch(seed)
        c = b.num_chunks
        masked += int((mismatch_mask(b.logp_old, b.logp_rollout, b.chunk_id, c, 1.2) == 0).sum())
        clipped += int((chunk_ratio(b.logp, b.logp_old, b.chunk_id, c) > 1).sum())
    assert masked > 0 and clipped > 0


def test_aggregate_empty_selection_is_zero() -> None:
    values = torch.ones(1, 3, requires_grad=True)
    out = aggregate(values, torch.tensor([[0, 0, 1]]), torch.tensor([False, False]), "chunk")
    assert float(out) == 0.0


def test_registry_rejects_duplicates_and_suggests_names() -> None:
    reg = Registry("loss")
    reg.register("x")(LOSSES.get("ipa"))
    with pytest.raises(AlgoError, match="already registered"):
        reg.register("x")(LOSSES.get("ppo"))
    with pytest.raises(AlgoError, match="already registered"):
        LOSSES.register("ipa")(LOSSES.get("ppo"))
    with pytest.raises(AlgoError, match="Did you mean 'grpo'"):
        LOSSES.get("grp")
    assert {"ipa", "ppo", "grpo", "reinforce", "tis"} <= set(LOSSES.names())


def test_bad_shapes_and_config_fail_loudly() -> None:
    b = one_row([0.0, -1.0], [-1, 0], [1.0], [1], [0], [0])
    b.logp_old = b.logp_old[:, :1]
    with pytest.raises(ValueError, match="must all be"):
        compute_loss("ipa", b, LossConfig())
    with pytest.raises(ValueError, match="agg"):
        LossConfig(agg="sum")  # type: ignore[arg-type]
