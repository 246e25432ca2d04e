"""Batched rollouts of a token-level LM policy in chunk-level text envs.

The policy samples each action token by token and records the sampler's log-prob of every
token (mu). Replayed expert chunks become expert `Chunk`s of the trajectory (imitation
targets); the rest are samples. Env episodes run in lock step, one turn at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import torch

from rl.packing import Chunk, LogitsFn, Trajectory
from rl.resampling import PrefixCache, ReplayEnv, StartState, reset_at
from rl.toy.model import WordTokenizer


@dataclass
class ToyEpisode:
    """A finished episode: the tokenized trajectory, its outcome and every step's info."""

    start: StartState
    trajectory: Trajectory
    reward: float
    infos: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.reward > 0


class CachedLM(Protocol):
    """A causal LM that can continue from a key/value cache (see `rl.toy.model.TinyLM`)."""

    def prefill(self, ids: torch.Tensor, attention: torch.Tensor) -> tuple[torch.Tensor, Any]: ...

    def decode(self, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]: ...


@torch.no_grad()
def sample_actions(
    logits_fn: LogitsFn,
    contexts: Sequence[list[int]],
    max_tokens: int,
    eos: int,
    pad: int,
    generator: torch.Generator,
) -> list[tuple[list[int], list[float]]]:
    """Sample one action per context, token by token, until `<eos>` or `max_tokens`.

    Returns (token ids, log mu of each token) per context. Rows are left-padded so the last
    column is every row's newest token. A model with `prefill`/`decode` (a `CachedLM`) runs
    the context once and then one token per step; any other `logits_fn` reruns the whole
    sequence for every token (same distribution, slower).
    """
    if not contexts:
        return []
    width = max(len(c) for c in contexts)
    ids = torch.full((len(contexts), width), pad, dtype=torch.long)
    att = torch.zeros((len(contexts), width), dtype=torch.bool)
    for r, ctx in enumerate(contexts):
        ids[r, width - len(ctx) :] = torch.tensor(ctx, dtype=torch.long)
        att[r, width - len(ctx) :] = True
    cached = hasattr(logits_fn, "prefill") and hasattr(logits_fn, "decode")
    model = cast(CachedLM, logits_fn)
    if cached:
        logits, cache = model.prefill(ids, att)
    else:
        logits = logits_fn(ids, att)
    out: list[tuple[list[int], list[float]]] = [([], []) for _ in contexts]
    alive = torch.ones(len(contexts), dtype=torch.bool)
    for step in range(max_tokens):
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        tokens = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        picked = logp.gather(1, tokens[:, None]).squeeze(1)
        for r in alive.nonzero().flatten().tolist():
            out[r][0].append(int(tokens[r]))
            out[r][1].append(float(picked[r]))
        alive &= tokens != eos
        if not bool(alive.any()) or step == max_tokens - 1:
            break
        if cached:
            logits, cache = model.decode(tokens[:, None], cache)
        else:  # finished rows keep growing; their samples are ignored
            ids = torch.cat([ids, tokens[:, None]], dim=1)
            att = torch.cat([att, torch.ones_like(att[:, :1])], dim=1)
            logits = logits_fn(ids, att)
    return out


def _obs_ids(tok: WordTokenizer, observation: str) -> list[int]:
    return [tok.obs, *tok.encode(observation), tok.act]


def prompt_ids(tok: WordTokenizer, instruction: str) -> list[int]:
    """An episode's first tokens: BOS, the instruction, then the action marker."""
    return [tok.bos, *tok.encode(instruction), tok.act]


def expert_chunk(tok: WordTokenizer, action: str, observation: str) -> Chunk:
    """One replayed expert turn: the action's ids (+ EOS, log-probs 0) and its observation's."""
    ids = [*tok.encode(action), tok.eos]
    return Chunk(ids, [0.0] * len(ids), _obs_ids(tok, observation), expert=True)


def run_episodes(
    logits_fn: LogitsFn,
    envs: Sequence[ReplayEnv],
    starts: Sequence[StartState],
    tok: WordTokenizer,
    generator: torch.Generator,
    max_action_tokens: int = 4,
    groups: Sequence[int] | None = None,
    prefixes: PrefixCache | None = None,
) -> list[ToyEpisode]:
    """One episode per start state (`envs[i]` runs `starts[i]`), all turns batched together.

    `groups[i]` is the baseline group id stored in trajectory i (default -1: none).
    `prefixes`: restore expert prefixes from snapshots instead of replaying them.
    """
    if len(envs) < len(starts):
        raise ValueError(f"need one env per start state: {len(envs)} envs, {len(starts)} starts")
    trajs: list[Trajectory] = []
    contexts: list[list[int]] = []
    infos: list[list[dict[str, Any]]] = [[] for _ in starts]
    for i, start in enumerate(starts):
        _, info = (
            prefixes.reset(envs[i], start) if prefixes is not None else reset_at(envs[i], start)
        )
        prompt = prompt_ids(tok, str(info["instruction"]))
        chunks = [
            expert_chunk(tok, step["action"], step["observation"])
            for step in info.get("replayed", [])
        ]
        gid = groups[i] if groups is not None else -1
        trajs.append(Trajectory(prompt, chunks, 0.0, gid, start.expert_len, start.expert_reward))
        contexts.append(prompt + [t for c in chunks for t in c.action_ids + c.obs_ids])
    rewards = [0.0] * len(starts)
    active = list(range(len(starts)))
    while active:
        actions = sample_actions(
            logits_fn, [contexts[i] for i in active], max_action_tokens, tok.eos, tok.pad, generator
        )
        still = []
        for i, (ids, mus) in zip(active, actions, strict=True):
            obs, reward, terminated, truncated, info = envs[i].step(tok.decode(ids))
            infos[i].append(info)
            obs_ids = _obs_ids(tok, str(obs))
            trajs[i].chunks.append(Chunk(ids, mus, obs_ids))
            contexts[i] += ids + obs_ids
            rewards[i] += float(reward)
            if not (terminated or truncated):
                still.append(i)
        active = still
    for traj, reward in zip(trajs, rewards, strict=True):
        traj.reward = reward
    return [
        ToyEpisode(s, t, r, inf) for s, t, r, inf in zip(starts, trajs, rewards, infos, strict=True)
    ]
