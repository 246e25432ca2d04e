"""Training tasks: start states, tokenization and the multi-turn rollout over env workers.

`ToyTask` drives `ale/ToyShell-v0` with the word-level chat layout of `rl.recipes`
(`<bos> statement <act> action <eos> <obs> output <act> ...`). A rollout batch is a pure
function of (seed, batch index): the start states, env reset options and sampling seeds are
derived from them, so a resumed run regenerates exactly the batches it has not trained on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.engines.base import Engine, Sampling
from envs.toy import VOCAB, expert_actions, task_ids
from rl.config import TrainConfig
from rl.filtering import FilterStats, collect_filtered, has_infra_error
from rl.packing import Chunk, Trajectory
from rl.recipes.toy_lm import WordTokenizer
from rl.resampling import ExpertTrajectory, StartState, parallel_starts, start_at
from rl.workers import EnvSpec, WorkerGroup

Item = tuple[int, StartState]
"""(group id, start state) of one episode."""


@dataclass
class Episode:
    """A finished episode before it gets a rollout id."""

    item: Item
    trajectory: Trajectory
    reward: float
    infos: list[dict[str, Any]]
    version: int
    timings: dict[str, Any] = field(default_factory=dict)
    """Where the episode's wall time went (sandboxed suites: `reset_s`, `policy_s`, `env_s`
    in seconds, and `prefetched`: whether its sandbox was prepared ahead)."""


def prefetches(cfg: TrainConfig, batch: int) -> bool:
    """Whether `batch`'s environments are prepared ahead: colocated mode with prefetch on, and
    `batch` is one the run will sample (nothing is prepared for a step after the last)."""
    sc = cfg.scheduler
    return sc.mode == "colocated" and sc.prefetch and batch <= cfg.run.steps


class ToyTask:
    """ToyShell start states (expert-prefix resampling) and rollouts with any engine."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.tok = WordTokenizer(VOCAB)
        ids = cfg.task.task_ids or task_ids()
        self.experts = [ExpertTrajectory(t, tuple(expert_actions(t))) for t in ids]
        kwargs = (
            ("max_turns", cfg.task.max_turns),
            ("infra_error_rate", cfg.task.infra_error_rate),
        )
        self.spec = EnvSpec(cfg.task.env_id, kwargs, cfg.task.reset_delay_s, cfg.task.step_delay_s)
        self.eval_spec = EnvSpec(cfg.task.env_id, (("max_turns", cfg.task.max_turns),))
        self.sampling = Sampling(
            max_tokens=cfg.engine.max_action_tokens,
            temperature=cfg.engine.temperature,
            stop_token_ids=[self.tok.eos],
        )
        self.filter_stats = FilterStats()
        self._eval_group: WorkerGroup | None = None
        self._prefetched_batch = 0

    @property
    def vocab_size(self) -> int:
        return len(self.tok)

    @property
    def pad_id(self) -> int:
        return self.tok.pad

    @property
    def batch_size(self) -> int:
        """Episodes per rollout batch."""
        return self.cfg.rollout.starts * self.cfg.rollout.group_size

    def items(self, batch: int) -> list[Item]:
        """The episodes of rollout batch `batch` (deterministic in seed and batch)."""
        r = self.cfg.rollout
        rng = random.Random(self.cfg.run.seed * 1_000_003 + batch)
        if r.resample == "parallel":
            starts = parallel_starts(self.experts, r.starts, rng, r.scratch_frac)
        else:
            starts = [
                start_at(self.experts[rng.randrange(len(self.experts))], 1) for _ in range(r.starts)
            ]
        return [(g, s) for g, s in enumerate(starts) for _ in range(r.group_size)]

    def prefetch(self, group: WorkerGroup, batch: int) -> None:
        """Reset the first wave of batch `batch`'s envs in the background (into the workers'
        spare envs, so a running episode is never touched); once per batch."""
        if not prefetches(self.cfg, batch) or self._prefetched_batch == batch:
            return
        self._prefetched_batch = batch
        items = self.items(batch)[: group.slots()]
        group.prefetch([(i, s.options(), None) for i, (_, s) in enumerate(items)])

    def collect(self, engine: Engine, group: WorkerGroup, batch: int) -> list[Episode]:
        """All episodes of batch `batch`; infra-failed ones are rerun from the same start.
        With `scheduler.prefetch_from: episode_start`, the next batch's envs start resetting
        as soon as this batch's last wave has reset its own."""
        seeds = iter(range(10**6))
        early = self.cfg.scheduler.prefetch_from == "episode_start"

        def run(items: list[Item]) -> list[Episode]:
            return self.run_items(
                engine,
                group,
                items,
                seed=(self.cfg.run.seed * 7919 + batch) * 1000 + next(seeds),
                after_reset=(lambda: self.prefetch(group, batch + 1)) if early else None,
            )

        kept = collect_filtered(
            run, self.items(batch), lambda e: has_infra_error(e.infos), self.cfg.rollout.max_retries
        )
        self.filter_stats.add(kept.stats)
        return [e for _, e in kept.episodes]

    def run_items(
        self,
        engine: Engine,
        group: WorkerGroup,
        items: Sequence[Item],
        seed: int,
        after_reset: Callable[[], None] | None = None,
    ) -> list[Episode]:
        """Run `items` in waves of `group.slots()` episodes; `after_reset()` is called once
        the last wave's envs are reset, before its first step."""
        out: list[Episode] = []
        n = group.slots()
        for w, start in enumerate(range(0, len(items), n)):
            last = start + n >= len(items)
            out += self._wave(
                engine,
                group,
                items[start : start + n],
                seed * 101 + w,
                after_reset if last else None,
            )
        return out

    def _wave(
        self,
        engine: Engine,
        group: WorkerGroup,
        items: Sequence[Item],
        seed: int,
        after_reset: Callable[[], None] | None = None,
    ) -> list[Episode]:
        tok = self.tok
        resets = group.reset_many([(i, s.options(), None) for i, (_, s) in enumerate(items)])
        if after_reset is not None:
            after_reset()
        trajs, contexts = [], []
        infos: list[list[dict[str, Any]]] = [[] for _ in items]
        for (gid, start), (_, info) in zip(items, resets, strict=True):
            prompt = [tok.bos, *tok.encode(str(info["statement"])), tok.act]
            chunks = []
            for step in info.get("replayed", []):
                action = [*tok.encode(step["action"]), tok.eos]
                chunks.append(
                    Chunk(action, [0.0] * len(action), self._obs(step["observation"]), expert=True)
                )
            trajs.append(
                Trajectory(prompt, chunks, 0.0, gid, start.expert_len, start.expert_reward)
            )
            contexts.append(prompt + [t for c in chunks for t in c.action_ids + c.obs_ids])
        rewards = [0.0] * len(items)
        versions = [engine.version] * len(items)
        active = list(range(len(items)))
        turn = 0
        while active:
            gens = engine.generate(
                [contexts[i] for i in active], self.sampling, seed=seed * 64 + turn
            )
            results = group.step_many(
                [(i, tok.decode(g.response_ids)) for i, g in zip(active, gens, strict=True)]
            )
            still = []
            for i, g, (obs, reward, term, trunc, info) in zip(active, gens, results, strict=True):
                obs_ids = self._obs(str(obs))
                trajs[i].chunks.append(Chunk(g.response_ids, g.logprobs, obs_ids))
                contexts[i] += g.response_ids + obs_ids
                infos[i].append(info)
                rewards[i] += reward
                versions[i] = min(versions[i], g.policy_version)
                if not (term or trunc):
                    still.append(i)
            active, turn = still, turn + 1
        for t, r in zip(trajs, rewards, strict=True):
            t.reward = r
        return [
            Episode(it, t, r, inf, v)
            for it, t, r, inf, v in zip(items, trajs, rewards, infos, versions, strict=True)
        ]

    def _obs(self, text: str) -> list[int]:
        return [self.tok.obs, *self.tok.encode(text), self.tok.act]

    def evaluate(self, engine: Engine, episodes: int, seed: int) -> float:
        """Success rate from scratch (anchor 1), tasks in turn, sampled with the engine."""
        if self._eval_group is None:
            self._eval_group = WorkerGroup(self.eval_spec, 1, episodes)
        items = [(-1, start_at(self.experts[i % len(self.experts)], 1)) for i in range(episodes)]
        eps = self.run_items(engine, self._eval_group, items, seed)
        return sum(e.reward > 0 for e in eps) / max(len(eps), 1)

    def close(self) -> None:
        if self._eval_group is not None:
            self._eval_group.close()
