"""`ToyTask` (`task.kind: toy`): `ale/ToyShell-v0` with the word-level layout of `ToyPolicy`.

Every toy task has an expert trajectory (`envs.toy.expert_actions`), so all resampling
strategies apply. Episodes run the agents' loop (`rl.rollout.AgentRollouts`) with the shipped
`toy` agent config, kept whole (every turn in the context, the env's own turn limit).
"""

from __future__ import annotations

from agents.config import AgentConfig
from agents.engines.base import Engine, Sampling
from agents.policies.base import Policy
from envs.core.config import ConfigError
from envs.toy import VOCAB, expert_actions, task_ids
from rl.config import ToyTaskConfig, TrainConfig
from rl.resampling import ExpertTrajectory
from rl.rollout import AgentRollouts
from rl.toy.model import WordTokenizer
from rl.toy.policy import ToyPolicy
from rl.workers import EnvSpec


class ToyTask(AgentRollouts):
    """ToyShell start states (expert-prefix resampling) and rollouts with any engine."""

    def __init__(self, cfg: TrainConfig) -> None:
        task = cfg.task
        if not isinstance(task, ToyTaskConfig):
            raise ConfigError(f"ToyTask needs task.kind: toy, got {task.kind!r}")
        self.tok = WordTokenizer(VOCAB)
        ids = task.task_ids or task_ids()
        kwargs = (("max_turns", task.max_turns), ("infra_error_rate", task.infra_error_rate))
        agent = AgentConfig.load(
            "toy",
            overrides=[
                f"limits.max_turns={task.max_turns}",
                f"context.keep_last_turns={task.max_turns}",
            ],
        )
        super().__init__(
            cfg,
            EnvSpec(
                task.env_id,
                kwargs,
                task.reset_delay_s,
                task.step_delay_s,
                snapshot_prefixes=cfg.rollout.prefix_start == "snapshot",
            ),
            EnvSpec(task.env_id, (("max_turns", task.max_turns),)),
            agent,
            [ExpertTrajectory(t, tuple(expert_actions(t))) for t in ids],
            Sampling(
                max_tokens=cfg.engine.max_action_tokens,
                temperature=cfg.engine.temperature,
                stop_token_ids=[self.tok.eos],
            ),
        )

    def make_policy(self, engine: Engine) -> Policy:
        return ToyPolicy(engine, self.tok, self.sampling)

    @property
    def vocab_size(self) -> int:
        return len(self.tok)

    @property
    def pad_id(self) -> int:
        return self.tok.pad

    @property
    def stop_ids(self) -> list[int]:
        return [self.tok.eos]

    @property
    def model_path(self) -> str | None:
        return None
