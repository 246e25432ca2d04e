"""One rollout path for every training task: the agents' episode loop on env-worker slots.

Every episode of a rollout wave runs `agents.loop.run_episode` (the loop `ale run` and
`ale bench` use) in its own thread, on a `SlotEnv`: one slot of the `WorkerGroup`, reached only
through the group's public `reset_many` / `step_many`, so local and Ray env workers serve it
alike and the workers' background resets (`prefetch`) hide environment start-up. The wave's
policies share a `Lockstep` batcher over the rollout engine: each turn, the requests of all
running episodes are sampled as one batch, in slot order, with a seed derived from the wave
and the turn, so a batch of episodes is reproducible from (seed, batch).

`AgentRollouts` implements `rl.tasks.RolloutTask` on top of that: start states from expert
trajectories (`rollout.resample`), dynamic filtering of infra failures, prefetch of the next
batch, evaluation from scratch. A task only says how to tokenize (`make_policy`) and which
experts and env it uses (`rl.toy.task.ToyTask`, `rl.sandbox_task.SandboxTask`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, SupportsFloat

import gymnasium
import torch

from agents.config import AgentConfig
from agents.engines.base import Engine, Generation, Sampling
from agents.loop import run_episode
from agents.policies.base import Policy
from agents.trajectory import EpisodeRecord
from rl.config import TrainConfig
from rl.filtering import FilterStats, collect_filtered, has_infra_error, has_task_error
from rl.packing import Chunk, Trajectory
from rl.resampling import ExpertTrajectory, StartState
from rl.starts import StartPlanner
from rl.tasks import Episode, Item, prefetches
from rl.workers import EnvSpec, WorkerGroup


class SlotEnv(gymnasium.Env[Any, Any]):
    """Env slot `slot` of `group` as a Gymnasium env (reset and step go through the group)."""

    def __init__(self, group: WorkerGroup, slot: int) -> None:
        self.group, self.slot = group, slot

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        [(obs, info)] = self.group.reset_many([(self.slot, dict(options or {}), seed)])
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        [result] = self.group.step_many([(self.slot, action)])
        return result


class Lockstep:
    """Batches one `generate` request per running episode into one engine call per turn.

    `members` episodes take part; each either asks (`generate`) or `leave`s. When every member
    still running has asked, their prompts are sampled together, in member order, with seed
    `seed * 64 + turn` (the same batches whatever the threads' timing).
    """

    def __init__(self, engine: Engine, members: int, seed: int) -> None:
        self.engine, self.seed = engine, seed
        self._running = members
        self._turn = 0
        self._asked: dict[int, tuple[list[int], Sampling]] = {}
        self._done: dict[int, Generation] = {}
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def generate(self, member: int, prompt: list[int], sampling: Sampling) -> Generation:
        with self._cond:
            self._asked[member] = (prompt, sampling)
            self._run_if_complete()
            while member not in self._done and self._error is None:
                self._cond.wait()
            if member not in self._done:
                raise RuntimeError("another episode's generation failed") from self._error
            return self._done.pop(member)

    def leave(self) -> None:
        """A member's episode ended: the others no longer wait for it."""
        with self._cond:
            self._running -= 1
            self._run_if_complete()

    def _run_if_complete(self) -> None:
        if not self._asked or len(self._asked) < self._running:
            return
        order = sorted(self._asked)
        sampling = self._asked[order[0]][1]
        try:
            gens = self.engine.generate(
                [self._asked[m][0] for m in order], sampling, seed=self.seed * 64 + self._turn
            )
        except BaseException as exc:
            self._error = exc
            self._cond.notify_all()
            raise
        self._turn += 1
        self._asked.clear()
        self._done.update(zip(order, gens, strict=True))
        self._cond.notify_all()


class MemberEngine:
    """The rollout engine as one episode of a `Lockstep` sees it (an `Engine`)."""

    def __init__(self, lockstep: Lockstep, member: int) -> None:
        self.lockstep, self.member = lockstep, member
        self.version = lockstep.engine.version
        """The engine's version when the episode started (each `Generation` has its own)."""

    @property
    def awake(self) -> bool:
        return self.lockstep.engine.awake

    def generate(
        self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int | None = None
    ) -> list[Generation]:
        return [self.lockstep.generate(self.member, list(p), sampling) for p in prompts]

    def score(
        self, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]]
    ) -> list[list[float]]:
        return self.lockstep.engine.score(prompt_ids, response_ids)

    def update_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        self.lockstep.engine.update_weights(state_dict, version)

    def sleep(self) -> None:
        self.lockstep.engine.sleep()

    def wake(self) -> None:
        self.lockstep.engine.wake()


def record_to_trajectories(
    record: EpisodeRecord, group: int, start: StartState | None = None
) -> list[Trajectory]:
    """Token trajectories of an episode record: replayed demonstration chunks become expert
    chunks (imitation targets), sampled ones carry their log mu. One row as long as each
    chunk's prompt extends the previous prompt + response (append-only prompts); where it does
    not (the context policy cut the history), the episode is split there."""
    chunks = [
        c for c in record.chunks if c.prompt_ids and c.response_ids and (c.logprobs or c.expert)
    ]
    out: list[Trajectory] = []
    current: Trajectory | None = None
    for k, c in enumerate(chunks):
        prompt, response = list(c.prompt_ids or []), list(c.response_ids or [])
        if current is None:
            current = Trajectory(prompt, [], float(record.reward), group)
            if start is not None:
                current.expert_len, current.expert_reward = start.expert_len, start.expert_reward
        logp = [0.0] * len(response) if c.expert else list(c.logprobs or [])
        nxt = chunks[k + 1] if k + 1 < len(chunks) else None
        ctx = prompt + response
        if nxt is not None and list(nxt.prompt_ids or [])[: len(ctx)] == ctx:
            obs = list(nxt.prompt_ids or [])[len(ctx) :]
            current.chunks.append(Chunk(response, logp, obs, expert=c.expert))
        else:
            current.chunks.append(Chunk(response, logp, expert=c.expert))
            out.append(current)
            current = None
    return out


class AgentRollouts:
    """`RolloutTask` over the agents' loop; subclasses give `make_policy` and the vocabulary.

    `agent` is the agents config episodes run; `experts` one demonstration per task (no
    actions: start from scratch only; `rollout.expert_data` replaces them by a dataset's); `spec` / `eval_spec` build the envs of rollouts and of
    evaluation.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        spec: EnvSpec,
        eval_spec: EnvSpec,
        agent: AgentConfig,
        experts: list[ExpertTrajectory],
        sampling: Sampling,
    ) -> None:
        if not experts:
            raise ValueError("the task has no task ids to start episodes from")
        if cfg.rollout.expert_data:
            from rl.data.experts import dataset_experts

            experts = dataset_experts(cfg.rollout.expert_data, [e.task_id for e in experts])
        self.cfg, self.spec, self.eval_spec = cfg, spec, eval_spec
        self.agent, self.experts, self.sampling = agent, experts, sampling
        self.starts = StartPlanner(cfg.rollout, cfg.run.seed, experts)
        self.filter_stats = FilterStats()
        self._eval_group: WorkerGroup | None = None
        self._prefetched: dict[int, int] = {}
        """env slot -> the batch whose environment was last prefetched there."""
        self._metrics: dict[str, float] = {}

    def make_policy(self, engine: Engine) -> Policy:
        """A policy sampling with `engine` that reports token ids and log-probs."""
        raise NotImplementedError

    @property
    def pad_id(self) -> int:
        raise NotImplementedError

    @property
    def batch_size(self) -> int:
        return self.cfg.rollout.starts * self.cfg.rollout.group_size

    def items(self, batch: int) -> list[Item]:
        return self.starts.items(batch)

    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)

    # -- prefetch ---------------------------------------------------------------------------
    def _prefetch_slot(self, group: WorkerGroup, slot: int, batch: int) -> None:
        """Start resetting slot `slot`'s spare env into item `slot` of `batch` (slot i runs
        item i of the first wave)."""
        items = self.items(batch)
        if slot < min(group.slots(), len(items)) and self._prefetched.get(slot) != batch:
            self._prefetched[slot] = batch
            group.prefetch([(slot, items[slot][1].options(), None)])

    def prefetch(self, group: WorkerGroup, batch: int) -> None:
        """Prepare `batch`'s first wave in the background (after ROLLOUT, overlapping TRAIN and
        SYNC); slots already prepared while ROLLOUT ran are left alone."""
        if prefetches(self.cfg, batch):
            for slot in range(group.slots()):
                self._prefetch_slot(group, slot, batch)

    # -- rollouts ---------------------------------------------------------------------------
    def collect(self, engine: Engine, group: WorkerGroup, batch: int) -> list[Episode]:
        """Every episode of `batch` (infra failures rerun). In colocated mode each slot of the
        last wave starts preparing its next-batch environment when its episode has finished
        (`scheduler.prefetch_from: episode_end`) or has reset (`episode_start`)."""
        self.starts.before_batch(
            batch, lambda items, seed: self.run_items(engine, group, items, seed)
        )
        seeds = itertools.count()
        next_env = None
        if prefetches(self.cfg, batch + 1):

            def next_env(slot: int) -> None:
                self._prefetch_slot(group, slot, batch + 1)

        def run(items: list[Item]) -> list[Episode]:
            seed = (self.cfg.run.seed * 7919 + batch) * 1000 + next(seeds)
            return self.run_items(engine, group, items, seed, next_env)

        kept = collect_filtered(
            run,
            self.items(batch),
            lambda e: has_infra_error(e.infos),
            self.cfg.rollout.max_retries,
            broken=lambda e: has_task_error(e.infos),
        )
        self.filter_stats.add(kept.stats)
        episodes = [e for _, e in kept.episodes]
        self._metrics = self.starts.record([(e.item[1], e.reward > 0) for e in episodes])
        return episodes

    def run_items(
        self,
        engine: Engine,
        group: WorkerGroup,
        items: Sequence[Item],
        seed: int,
        next_env: Callable[[int], None] | None = None,
    ) -> list[Episode]:
        """One episode per item, `group.slots()` at a time (item i of a wave on slot i).
        `next_env(slot)` is called for each slot of the last wave (see `collect`)."""
        n = group.slots()
        out: list[Episode] = []
        for w, start in enumerate(range(0, len(items), n)):
            last = start + n >= len(items)
            wave = list(items[start : start + n])
            lockstep = Lockstep(engine, len(wave), seed * 101 + w)
            with ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="rollout") as pool:
                futures = [
                    pool.submit(
                        self._episode, engine, lockstep, group, i, item, next_env if last else None
                    )
                    for i, item in enumerate(wave)
                ]
                out += [f.result() for f in futures]
        return out

    def _episode(
        self,
        engine: Engine,
        lockstep: Lockstep,
        group: WorkerGroup,
        slot: int,
        item: Item,
        next_env: Callable[[int], None] | None,
    ) -> Episode:
        early = self.cfg.scheduler.prefetch_from == "episode_start"
        reset_info: dict[str, Any] = {}

        def on_reset(info: dict[str, Any]) -> None:
            reset_info.update(info)
            if next_env is not None and early:
                next_env(slot)

        version = engine.version
        try:
            policy = self.make_policy(MemberEngine(lockstep, slot))
            start = item[1]
            rec = run_episode(
                SlotEnv(group, slot),
                self.agent,
                policy,
                start.task_id,
                on_reset=on_reset,
                reset_options={"replay": list(start.replay)},
            )
        finally:
            lockstep.leave()
        if next_env is not None and not early:
            next_env(slot)
        return episode_of(rec, item, version, bool(reset_info.get("prefetched")), self.pad_id)

    def evaluate(self, engine: Engine, episodes: int, seed: int) -> float:
        """Success rate from scratch (anchor 1), tasks in turn, sampled with the engine."""
        if self._eval_group is None:
            self._eval_group = WorkerGroup(self.eval_spec, 1, episodes)
        items = [
            (-1, StartState(self.experts[i % len(self.experts)].task_id, 1))
            for i in range(episodes)
        ]
        eps = self.run_items(engine, self._eval_group, items, seed)
        return sum(e.reward > 0 for e in eps) / max(len(eps), 1)

    def close(self) -> None:
        if self._eval_group is not None:
            self._eval_group.close()


def episode_of(
    rec: EpisodeRecord, item: Item, version: int, prefetched: bool, pad_id: int = 0
) -> Episode:
    """The training view of an episode record: its first token segment, the sampled chunks'
    infra flags and sandbox ids, the oldest policy version, and where the time went."""
    trajs = record_to_trajectories(rec, item[0], item[1])
    sampled = [c for c in rec.chunks if not c.expert]
    infos: list[dict[str, Any]] = [
        {"infra_error": c.infra_error, "sandbox_id": c.info.get("sandbox_id")} for c in sampled
    ]
    if infos:
        infos[-1]["chunks_cut"] = sum(len(t.chunks) for t in trajs[1:])
    versions = [c.policy_version for c in sampled if c.policy_version is not None]
    traj = trajs[0] if trajs else Trajectory([pad_id], [], float(rec.reward), item[0])
    timings: dict[str, Any] = {
        k: rec.timings[k] for k in ("reset_s", "policy_s", "env_s") if k in rec.timings
    }
    return Episode(
        item,
        traj,
        float(rec.reward),
        infos,
        min(versions, default=version),
        {**timings, "prefetched": prefetched},
    )
