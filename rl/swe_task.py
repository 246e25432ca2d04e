"""Training on sandboxed suites (swe-mini, tb-mini, ...) with a transformers chat model.

Rollouts go through the agents' episode loop (`agents.loop.run_episode`) with an `HFPolicy`
whose engine is the rollout engine's transformers engine, so the ids and log-probs the trainer
sees are exactly the ones sampled. Env slots are `ChunkEnv`s held by local env workers (one
docker sandbox per running episode); episodes of a batch run in parallel threads.

A trajectory is packed as one row when each chunk's prompt extends the previous chunk's prompt
+ response (the policy's "append" prompt mode). Where it does not (the context policy cut the
history), `record_to_trajectories` splits the episode there; training keeps the first segment
and counts the cut chunks (`chunks_cut` in the last step's info).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agents.engines.base import Engine, Sampling
from rl.config import TrainConfig
from rl.filtering import FilterStats, collect_filtered
from rl.packing import Chunk, Trajectory
from rl.resampling import StartState
from rl.tasks import Episode, Item, prefetches
from rl.workers import EnvSpec, WorkerGroup


def record_to_trajectories(record: Any, group: int) -> list[Trajectory]:
    """Token trajectories of an `agents.trajectory.EpisodeRecord` (see the module docstring)."""
    chunks = [c for c in record.chunks if c.prompt_ids and c.response_ids and c.logprobs]
    out: list[Trajectory] = []
    current: Trajectory | None = None
    for k, c in enumerate(chunks):
        if current is None:
            current = Trajectory(list(c.prompt_ids), [], float(record.reward), group)
        nxt = chunks[k + 1] if k + 1 < len(chunks) else None
        ctx = list(c.prompt_ids) + list(c.response_ids)
        if nxt is not None and list(nxt.prompt_ids[: len(ctx)]) == ctx:
            current.chunks.append(
                Chunk(list(c.response_ids), list(c.logprobs), list(nxt.prompt_ids[len(ctx) :]))
            )
        else:
            current.chunks.append(Chunk(list(c.response_ids), list(c.logprobs)))
            out.append(current)
            current = None
    return out


class SweTask:
    """Start states are task ids of a suite; episodes run the `swe` agent config."""

    def __init__(self, cfg: TrainConfig) -> None:
        from transformers import AutoTokenizer

        from agents.config import AgentConfig
        from envs.core.suites import resolve_suite

        self.cfg = cfg
        path = cfg.model.tokenizer or cfg.model.path
        if path is None:
            from agents.tiny_model import ensure_tiny_model

            path = str(ensure_tiny_model())
        self.model_path = cfg.model.path or path
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        suite = resolve_suite(cfg.task.suite)
        self.task_ids = list(cfg.task.task_ids or suite.task_ids())
        self.agent = AgentConfig.load(
            cfg.task.agent,
            overrides=[
                f"limits.max_turns={cfg.task.max_turns}",
                f"sampling.max_tokens={cfg.engine.max_action_tokens}",
                f"sampling.temperature={cfg.engine.temperature}",
                f"context.max_observation_chars={cfg.task.max_observation_tokens * 4}",
            ],
        )
        kwargs = (
            ("suite", cfg.task.suite),
            ("backend", cfg.task.backend),
            ("task_ids", list(self.task_ids)),
            ("max_turns", cfg.task.max_turns),
        )
        self.spec = EnvSpec(
            "ale/SWEMini-v0" if cfg.task.suite == "swe-mini" else "ale/TBMini-v0", kwargs
        )
        eos = self.tokenizer.eos_token_id
        self.sampling = Sampling(
            max_tokens=cfg.engine.max_action_tokens,
            temperature=cfg.engine.temperature,
            stop_token_ids=[int(eos)] if eos is not None else [],
        )
        self.filter_stats = FilterStats()
        self._prefetched: dict[int, int] = {}
        """env slot -> the batch whose sandbox was last prefetched there."""

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else 0

    @property
    def batch_size(self) -> int:
        return self.cfg.rollout.starts * self.cfg.rollout.group_size

    def items(self, batch: int) -> list[Item]:
        rng = random.Random(self.cfg.run.seed * 1_000_003 + batch)
        picks = [
            self.task_ids[rng.randrange(len(self.task_ids))] for _ in range(self.cfg.rollout.starts)
        ]
        return [
            (g, StartState(t, 1))
            for g, t in enumerate(picks)
            for _ in range(self.cfg.rollout.group_size)
        ]

    def _prefetch_slot(self, group: WorkerGroup, slot: int, batch: int) -> None:
        """Start preparing item `slot` of `batch` on env slot `slot` (it runs there: slot i
        gets item i of the first wave in `run_items`)."""
        items = self.items(batch)
        if group.use_ray or slot >= min(group.slots(), len(items)):
            return
        env = group.workers[slot // group.epw].envs[slot % group.epw]
        prefetch = getattr(env, "prefetch", None)
        if prefetch is not None:
            prefetch(items[slot][1].task_id)
            self._prefetched[slot] = batch

    def prefetch(self, group: WorkerGroup, batch: int) -> None:
        """Start preparing the sandboxes of `batch`'s first wave in the background (container
        create + task prepare, on each `ChunkEnv`'s own executor); returns at once.

        Called by the colocated scheduler after ROLLOUT, so it overlaps TRAIN and SYNC. Slots
        whose episode already finished during ROLLOUT were prefetched then (see `collect`)
        and are skipped. The agent loop's `reset(task_id)` on a slot takes the prepared
        sandbox; a slot whose item changed (a retry) drops it and prepares again; the previous
        episode's sandbox is closed in the background by that reset, as without prefetch.
        """
        if not prefetches(self.cfg, batch):
            return
        for slot in range(group.slots()):
            if self._prefetched.get(slot) != batch:
                self._prefetch_slot(group, slot, batch)

    def collect(self, engine: Engine, group: WorkerGroup, batch: int) -> list[Episode]:
        """Run `batch` (rerunning infra failures). In colocated mode, each slot of the batch's
        last wave starts preparing its next-batch sandbox while the other episodes still run
        (overlap inside ROLLOUT): when its episode has finished (graded), or, with
        `scheduler.prefetch_from: episode_start`, as soon as the episode has taken its own
        sandbox (double buffering). On a CPU-only machine the second competes with generation
        for the same cores and measured slower (docs/training.md)."""
        next_sandbox = None
        if prefetches(self.cfg, batch + 1):

            def next_sandbox(slot: int) -> None:
                self._prefetch_slot(group, slot, batch + 1)

        def run(items: list[Item]) -> list[Episode]:
            return self.run_items(engine, group, items, next_sandbox)

        kept = collect_filtered(
            run,
            self.items(batch),
            lambda e: any(i.get("infra_error") for i in e.infos),
            self.cfg.rollout.max_retries,
        )
        self.filter_stats.add(kept.stats)
        return [e for _, e in kept.episodes]

    def run_items(
        self,
        engine: Engine,
        group: WorkerGroup,
        items: Sequence[Item],
        next_sandbox: Callable[[int], None] | None = None,
    ) -> list[Episode]:
        """One episode per item, `group.slots()` at a time (item i of a wave on slot i).
        `next_sandbox(slot)` is called for each slot's episode of the last wave: when it has
        finished, or when it has reset (`scheduler.prefetch_from: episode_start`)."""
        if group.use_ray:
            raise NotImplementedError(
                "sandboxed suites run with local env workers (scheduler.ray: false)"
            )
        from agents.engines.hf_engine import HFEngine
        from agents.loop import run_episode
        from agents.policies.hf import HFPolicy

        if not isinstance(engine, HFEngine):
            raise NotImplementedError(
                "sandboxed suites need engine.kind 'hf' (the agents' transformers engine)"
            )
        early = self.cfg.scheduler.prefetch_from == "episode_start"
        n = group.slots()
        envs = [group.workers[i // group.epw].envs[i % group.epw] for i in range(n)]
        out: list[Episode] = []
        for start in range(0, len(items), n):
            wave = list(items[start : start + n])
            last_wave = start + n >= len(items)

            def one(i: int, item: Item, last: bool = last_wave) -> Episode:
                samp = Sampling(
                    temperature=self.sampling.temperature, max_tokens=self.sampling.max_tokens
                )
                policy = HFPolicy(engine, self.tokenizer, samp, name="rl")
                version = engine.version
                reset_info: dict[str, Any] = {}

                def reset_done(info: dict[str, Any]) -> None:
                    reset_info.update(info)
                    if next_sandbox is not None and last and early:
                        next_sandbox(i)

                rec = run_episode(envs[i], self.agent, policy, item[1].task_id, on_reset=reset_done)
                versions = [c.policy_version for c in rec.chunks if c.policy_version is not None]
                trajs = record_to_trajectories(rec, item[0])
                infos = [
                    {"infra_error": c.infra_error, "sandbox_id": c.info.get("sandbox_id")}
                    for c in rec.chunks
                ]
                traj = (
                    trajs[0] if trajs else Trajectory([self.pad_id], [], float(rec.reward), item[0])
                )
                if infos:
                    infos[-1]["chunks_cut"] = sum(len(t.chunks) for t in trajs[1:])
                if next_sandbox is not None and last and not early:
                    next_sandbox(i)
                timings: dict[str, Any] = {
                    k: rec.timings[k] for k in ("reset_s", "policy_s", "env_s") if k in rec.timings
                }
                return Episode(
                    item,
                    traj,
                    float(rec.reward),
                    infos,
                    min(versions, default=version),
                    {**timings, "prefetched": bool(reset_info.get("prefetched"))},
                )

            with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                out += list(pool.map(one, range(len(wave)), wave))
        return out

    def evaluate(self, engine: Engine, episodes: int, seed: int) -> float:
        raise NotImplementedError(
            "set eval.every: 0 for sandboxed suites; the rollout reward is logged every step"
        )

    def close(self) -> None:
        pass
