"""`SandboxTask` (`task.kind: sandbox`): training on any registered chunk-level env id.

`ale/SWEMini-v0`, `ale/TBMini-v0`, `ale/SWEBench-v0` (a SWE-bench file), `ale/TerminalBench-v0`
and `ale/TerminalBenchPro-v0` (folders of Terminal-Bench / Harbor tasks): the env id and its
kwargs (`task.env_kwargs`) pick the suite; each env slot is a `ChunkEnv` in an env worker, one
sandbox per running episode. Episodes run the agents' loop with an agents config and an
`HFPolicy` over the rollout engine (a transformers chat model and its tokenizer), so the ids
and log-probs the trainer sees are exactly the ones sampled.

With `task.experts: oracle`, each task's reference solution (`Task.oracle_actions`, then
`submit`) is its expert trajectory and `rollout.resample` picks anchors in it: the env replays
the prefix at reset and the policy continues from there.
"""

from __future__ import annotations

from typing import Any

from agents.config import AgentConfig
from agents.engines.base import Engine, Sampling
from agents.policies.base import Policy
from agents.policies.hf import HFPolicy
from agents.policies.oracle import demonstration
from envs.core.config import ConfigError
from envs.core.env import ChunkEnv
from envs.core.task import OracleTask
from rl.config import SandboxTaskConfig, TrainConfig
from rl.resampling import ExpertTrajectory
from rl.rollout import AgentRollouts
from rl.workers import EnvSpec


def env_spec(task: SandboxTaskConfig, snapshot_prefixes: bool = False) -> EnvSpec:
    """How env workers build the task's env: the id, its kwargs, backend, turns, task ids."""
    kwargs: dict[str, Any] = {
        **task.env_kwargs,
        "backend": task.backend,
        "max_turns": task.max_turns,
    }
    if task.task_ids:
        kwargs["task_ids"] = list(task.task_ids)
    return EnvSpec(task.env_id, tuple(kwargs.items()), snapshot_prefixes=snapshot_prefixes)


def experts_of(env: ChunkEnv, use_oracle: bool) -> list[ExpertTrajectory]:
    """One expert per task of `env`: its reference solution as env actions, or none."""
    if not use_oracle:
        return [ExpertTrajectory(t, ()) for t in env.task_ids]
    experts = []
    for t in env.task_ids:
        task = env.suite.load(t)
        if not isinstance(task, OracleTask):
            raise ConfigError(
                f"task.experts: oracle needs tasks with a reference solution (oracle_actions); "
                f"{t!r} of suite {env.suite.name!r} has none: set task.experts: none"
            )
        actions = demonstration(task.oracle_actions(), env.action_format)
        experts.append(ExpertTrajectory(t, tuple(actions)))
    return experts


class SandboxTask(AgentRollouts):
    """Start states are tasks of the env's suite (optionally expert prefixes); see module doc."""

    def __init__(self, cfg: TrainConfig) -> None:
        from transformers import AutoTokenizer

        task = cfg.task
        if not isinstance(task, SandboxTaskConfig):
            raise ConfigError(f"SandboxTask needs task.kind: sandbox, got {task.kind!r}")

        path = cfg.model.tokenizer or cfg.model.path
        if path is None:
            from agents.tiny_model import ensure_tiny_model

            path = str(ensure_tiny_model())
        self._model_path = cfg.model.path or path
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        spec = env_spec(task, cfg.rollout.prefix_start == "snapshot")
        env = spec.make()
        try:
            if not isinstance(env, ChunkEnv):
                raise ConfigError(
                    f"task.env_id {task.env_id!r} is not a chunk-level sandbox env (ChunkEnv); "
                    "kind: sandbox takes ale/SWEMini-v0, ale/TBMini-v0, ale/SWEBench-v0, ... "
                    "(the toy env is kind: toy)"
                )
            experts = experts_of(env, task.experts == "oracle")
        finally:
            env.close()
        agent = AgentConfig.load(
            task.agent,
            overrides=[
                f"limits.max_turns={task.max_turns}",
                f"sampling.max_tokens={cfg.engine.max_action_tokens}",
                f"sampling.temperature={cfg.engine.temperature}",
                f"context.max_observation_chars={task.max_observation_tokens * 4}",
            ],
        )
        sampling = Sampling(
            temperature=cfg.engine.temperature, max_tokens=cfg.engine.max_action_tokens
        )
        super().__init__(cfg, spec, spec, agent, experts, sampling)

    def make_policy(self, engine: Engine) -> Policy:
        return HFPolicy(
            engine, self.tokenizer, self.sampling, name="rl", eos_token_ids=self.stop_ids
        )

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else 0

    @property
    def stop_ids(self) -> list[int]:
        eos = self.tokenizer.eos_token_id
        return [int(eos)] if eos is not None else []

    @property
    def model_path(self) -> str | None:
        return self._model_path
