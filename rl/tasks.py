"""The training-task seam: `RolloutTask`, what the scheduler, the workers and `train` are typed on.

A task owns the start states of each rollout batch (`items`) and turns them into finished
`Episode`s with a rollout engine (`collect`), preparing the next batch's environments ahead
(`prefetch`). Two implementations share one rollout path (`rl.rollout.AgentRollouts`: the
agents' episode loop over env-worker slots): `rl.toy.task.ToyTask` (`task.kind: toy`) and
`rl.sandbox_task.SandboxTask` (`task.kind: sandbox`, any registered chunk-level env id).
`rl.train_loop.make_task(cfg)` builds the one the config names.

A rollout batch is a pure function of (seed, batch index): start states, reset options and
sampling seeds derive from them, so a resumed run regenerates exactly the batches it has not
trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rl.filtering import FilterStats
from rl.packing import Trajectory
from rl.resampling import StartState
from rl.workers import EnvSpec

if TYPE_CHECKING:
    from agents.engines.base import Engine
    from rl.config import TrainConfig
    from rl.workers import WorkerGroup

Item = tuple[int, StartState]
"""(group id, start state) of one episode."""


@dataclass
class Episode:
    """A finished episode before it gets a rollout id."""

    item: Item
    trajectory: Trajectory
    reward: float
    infos: list[dict[str, Any]]
    """Per chunk: `infra_error`, `sandbox_id` (and `chunks_cut` on the last one)."""
    version: int
    """The oldest policy version that sampled one of its chunks."""
    timings: dict[str, Any] = field(default_factory=dict)
    """Where the episode's wall time went (`reset_s`, `policy_s`, `env_s` in seconds, and
    `prefetched`: whether its environment was prepared ahead)."""


class RolloutTask(Protocol):
    """Reset env slots into start states and roll groups of episodes with a policy engine."""

    spec: EnvSpec
    """How the env workers build this task's envs."""
    filter_stats: FilterStats
    """Infra-failed episodes dropped and rerun so far."""

    @property
    def vocab_size(self) -> int: ...

    @property
    def pad_id(self) -> int: ...

    @property
    def stop_ids(self) -> list[int]:
        """Token ids that end a turn (the engine stops there)."""
        ...

    @property
    def model_path(self) -> str | None:
        """A saved model folder the policy starts from (None: built from the config)."""
        ...

    @property
    def batch_size(self) -> int:
        """Episodes per rollout batch."""
        ...

    def items(self, batch: int) -> list[Item]:
        """The episodes of rollout batch `batch` (deterministic in seed and batch)."""
        ...

    def prefetch(self, group: WorkerGroup, batch: int) -> None:
        """Start preparing `batch`'s first-wave environments in the background; returns at once."""
        ...

    def collect(self, engine: Engine, group: WorkerGroup, batch: int) -> list[Episode]:
        """Every episode of `batch`, infra failures rerun from the same start state."""
        ...

    def evaluate(self, engine: Engine, episodes: int, seed: int) -> float:
        """Success rate from scratch (no expert prefix) over `episodes` episodes."""
        ...

    def metrics(self) -> dict[str, float]:
        """What the last `collect` adds to the step's metrics (e.g. the curriculum's anchors)."""
        ...

    def close(self) -> None: ...


def prefetches(cfg: TrainConfig, batch: int) -> bool:
    """Whether `batch`'s environments are prepared ahead: colocated mode with prefetch on, and
    `batch` is one the run will sample (nothing is prepared for a step after the last)."""
    sc = cfg.scheduler
    return sc.mode == "colocated" and sc.prefetch and batch <= cfg.run.steps
