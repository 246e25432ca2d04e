"""Packed rows (one per trajectory) give the loss and gradients of one row per chunk."""

from __future__ import annotations

import copy
import random

import pytest
import torch

from rl.algos import LOSSES, LossConfig, compute_loss
from rl.packing import Chunk, PackedBatch, Trajectory, pack, per_chunk, token_logprobs
from rl.toy.model import TinyLM

VOCAB = 20


def random_trajs(seed: int) -> list[Trajectory]:
    rng = random.Random(seed)
    trajs = []
    for n in range(rng.randint(1, 4)):
        n_expert = rng.randint(0, 2)
        chunks = []
        for k in range(rng.randint(1, 5)):
            action = [rng.randrange(6, VOCAB) for _ in range(rng.randint(1, 4))] + [2]
            mu = [-rng.random() * 3 for _ in action]
            obs = [4] + [rng.randrange(6, VOCAB) for _ in range(rng.randint(0, 3))] + [5]
            chunks.append(Chunk(action, mu, obs, expert=k < n_expert))
        trajs.append(
            Trajectory(
                [1] + [rng.randrange(6, VOCAB) for _ in range(rng.randint(0, 4))],
                chunks,
                reward=float(rng.random() < 0.5),
                group=n % 2,
                expert_len=n_expert + 2,
            )
        )
    return trajs


def loss_and_grads(
    model: TinyLM, old: TinyLM, batch: PackedBatch, name: str, cfg: LossConfig
) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad()
    with torch.no_grad():
        logp_old = token_logprobs(old, batch)
    loss = compute_loss(name, batch.chunk_batch(token_logprobs(model, batch), logp_old), cfg).loss
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("name", LOSSES.names())
@pytest.mark.parametrize("agg", ["chunk", "token"])
@pytest.mark.parametrize("seed", range(4))
def test_packed_equals_per_chunk(name: str, agg: str, seed: int) -> None:
    torch.manual_seed(seed)
    model = TinyLM(VOCAB, dim=16, layers=2, heads=2, max_len=96).double()
    old = copy.deepcopy(model)
    with torch.no_grad():  # pi_old != pi_theta so ratios and clipping are exercised
        for p in old.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    trajs = random_trajs(seed)
    cfg = LossConfig(agg=agg, failure_reward=-0.5, gamma=0.9)  # type: ignore[arg-type]
    packed, rows = pack(trajs), per_chunk(trajs)
    assert packed.input_ids.shape[0] == len(trajs)
    assert rows.input_ids.shape[0] == sum(len(t.chunks) for t in trajs)
    loss_p, grads_p = loss_and_grads(model, old, packed, name, cfg)
    loss_r, grads_r = loss_and_grads(model, old, rows, name, cfg)
    assert loss_p == pytest.approx(loss_r, abs=1e-10)
    assert len(grads_p) == len(grads_r) > 0
    for gp, gr in zip(grads_p, grads_r, strict=True):
        torch.testing.assert_close(gp, gr, atol=1e-10, rtol=1e-8)


def test_packed_layout_marks_only_policy_tokens() -> None:
    traj = Trajectory(
        [1, 9],
        [Chunk([7, 2], [-1.0, -2.0], [4, 8, 5], expert=True), Chunk([6, 2], [-0.5, -0.1], [4, 5])],
        reward=1.0,
        expert_len=3,
    )
    b = pack([traj, traj])
    assert b.input_ids[0].tolist() == [1, 9, 7, 2, 4, 8, 5, 6, 2, 4, 5]
    assert b.chunk_id[0].tolist() == [-1, -1, 0, 0, -1, -1, -1, 1, 1, -1, -1]
    assert b.chunk_id[1].tolist() == [-1, -1, 2, 2, -1, -1, -1, 3, 3, -1, -1]
    assert b.logp_rollout[0, 7:9].tolist() == pytest.approx([-0.5, -0.1])
    # sources: sampled part (R, K = 2 chunks) and the expert part (R* = 1, K* = 3) per trajectory
    assert b.chunk_expert.tolist() == [True, False, True, False]
    assert b.chunk_traj.tolist() == [1, 0, 3, 2]
    assert b.traj_len.tolist() == [2, 3, 2, 3]
    rows = per_chunk([traj])
    assert rows.input_ids[1].tolist() == [1, 9, 7, 2, 4, 8, 5, 6, 2]
    assert rows.chunk_id[1].tolist() == [-1] * 7 + [1, 1]


def test_empty_prompt_is_rejected() -> None:
    with pytest.raises(ValueError, match="prompt token"):
        pack([Trajectory([], [Chunk([3], [0.0])], 1.0)])
