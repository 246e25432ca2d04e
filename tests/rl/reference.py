"""Slow, obvious reference implementations of `rl.algos` (STYLE item 10), and a random batch."""

from __future__ import annotations

import math
import random

import torch

from rl.algos import ChunkBatch, LossConfig


def ref_discounted_returns(
    rewards: list[float], traj: list[int], pos: list[int], gamma: float
) -> list[float]:
    """G_k = r_k + gamma * G_{k+1}, walking each trajectory backwards."""
    out = [0.0] * len(rewards)
    for n in set(traj):
        idx = sorted((c for c in range(len(traj)) if traj[c] == n), key=lambda c: pos[c])
        g = 0.0
        for c in reversed(idx):
            g = rewards[c] + gamma * g
            out[c] = g
    return out


def _tokens(b: ChunkBatch) -> dict[int, list[tuple[float, float, float]]]:
    toks: dict[int, list[tuple[float, float, float]]] = {c: [] for c in range(b.num_chunks)}
    rows, cols = b.chunk_id.shape
    for i in range(rows):
        for t in range(cols):
            c = int(b.chunk_id[i, t])
            if c >= 0:
                toks[c].append(
                    (float(b.logp[i, t]), float(b.logp_old[i, t]), float(b.logp_rollout[i, t]))
                )
    return toks


def ref_loss(name: str, b: ChunkBatch, cfg: LossConfig) -> float:
    """The registered loss `name`, one token at a time with Python floats."""
    imitation = name == "ipa" or name.endswith("_il")
    name = name.removesuffix("_il")
    toks = _tokens(b)
    reward = [float(r) for r in b.traj_reward]
    group = [int(g) for g in b.traj_group]
    n_src = len(reward)
    shaped = [r if r > 0 else cfg.failure_reward for r in reward]
    mean, std = [0.0] * n_src, [1.0] * n_src
    for n in range(n_src):
        if group[n] >= 0:
            members = [shaped[m] for m in range(n_src) if group[m] == group[n]]
            mean[n] = sum(members) / len(members)
            std[n] = math.sqrt(sum((x - mean[n]) ** 2 for x in members) / len(members))
    adv = [shaped[n] - (mean[n] if cfg.group_baseline else 0.0) for n in range(n_src)]
    grpo = [(shaped[n] - mean[n]) / (std[n] + cfg.adv_eps) for n in range(n_src)]
    values: dict[int, list[float]] = {}
    il_values: dict[int, list[float]] = {}
    for c, tl in toks.items():
        n = int(b.chunk_traj[c])
        g = adv[n] * cfg.gamma ** (int(b.traj_len[n]) - 1 - int(b.chunk_pos[c]))
        if bool(b.chunk_expert[c]):
            il_values[c] = [g * lp for lp, _, _ in tl]
            continue
        vals = []
        for lp, old, mu in tl:
            r = math.exp(lp - old)
            if name == "ipa":
                rho = math.exp(sum(x - o for x, o, _ in tl) / len(tl))
                gap = math.exp(sum(o - m for _, o, m in tl) / len(tl))
                m_c = 1.0 if gap <= cfg.mismatch_cap else 0.0
                trust = 1.0 if adv[n] > 0 else min(max(rho, 0.0), 1.0)
                vals.append(trust * g * m_c * lp)
            elif name in ("ppo", "grpo"):
                a = g if name == "ppo" else grpo[n]
                lo, hi = 1 - cfg.clip_eps, 1 + cfg.clip_eps
                vals.append(min(r * a, min(max(r, lo), hi) * a))
            elif name == "reinforce":
                vals.append(g * lp)
            elif name == "tis":
                vals.append(min(math.exp(lp - mu), cfg.tis_cap) * g * lp)
            else:
                raise KeyError(name)
        values[c] = vals
    rl = -_agg(values, cfg.agg)
    if not imitation:
        return rl
    il = cfg.lambda_il * -_agg(il_values, cfg.agg)
    return il + (cfg.lambda_rl * rl if name == "ipa" else rl)


def _agg(values: dict[int, list[float]], mode: str) -> float:
    if not values:
        return 0.0
    if mode == "chunk":
        return sum(sum(v) / len(v) if v else 0.0 for v in values.values()) / len(values)
    ntok = sum(len(v) for v in values.values())
    return sum(sum(v) for v in values.values()) / max(ntok, 1)


def random_batch(seed: int, with_expert: bool = True) -> ChunkBatch:
    """A random but valid batch: N sources in groups, 1-4 tokens per chunk, rows of mixed chunks,
    some chunks with a large train/rollout gap (masked) and some negative ratios > 1."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    n_traj = rng.randint(2, 6)
    reward = [float(rng.random() < 0.5) for _ in range(n_traj)]
    group = [rng.choice([-1, 0, 1, 2]) for _ in range(n_traj)]
    length = [rng.randint(1, 4) for _ in range(n_traj)]
    chunk_traj: list[int] = []
    chunk_pos: list[int] = []
    chunk_expert: list[bool] = []
    sources = [(n, length[n], False) for n in range(n_traj)]
    if with_expert:
        reward.append(1.0)
        group.append(-1)
        length.append(4)
        sources.append((n_traj, rng.randint(1, 3), True))
    for n, count, expert in sources:
        for k in range(count):
            chunk_traj.append(n)
            chunk_pos.append(k)
            chunk_expert.append(expert)
    rows: list[list[int]] = [[], [], []]
    for c in range(len(chunk_traj)):
        row = rows[rng.randrange(len(rows))]
        row += [-1] * rng.randint(0, 2) + [c] * rng.randint(1, 4)
    width = max(len(r) for r in rows) + rng.randint(0, 2)
    chunk_id = torch.tensor([r + [-1] * (width - len(r)) for r in rows], dtype=torch.long)
    shape = chunk_id.shape
    logp = -torch.rand(shape, generator=gen, dtype=torch.float64) * 3
    logp_old = logp + torch.randn(shape, generator=gen, dtype=torch.float64) * 0.3
    logp_rollout = logp_old + torch.randn(shape, generator=gen, dtype=torch.float64) * 0.6
    return ChunkBatch(
        logp.requires_grad_(True),
        logp_old,
        logp_rollout,
        chunk_id,
        torch.tensor(chunk_traj),
        torch.tensor(chunk_pos),
        torch.tensor(chunk_expert),
        torch.tensor(reward, dtype=torch.float64),
        torch.tensor(length),
        torch.tensor(group),
    )
