"""`ale train` configuration: strict YAML, one pydantic model per section.

An unknown key is an error that names the nearest valid key ("did you mean ...?"); values are
type-checked. Sections: run, task, model, engine, scheduler, rollout, algo, trainer, eval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from envs.core.config import StrictModel, load_yaml, validate
from rl.loss_config import LossConfig


class _Section(StrictModel):
    model_config = ConfigDict(frozen=True)


class RunConfig(_Section):
    """Where and how long."""

    out_dir: str = "runs/train"
    """Run folder (relative paths are relative to the current directory)."""
    seed: int = 0
    steps: int = 10
    """TRAIN steps (policy updates)."""
    checkpoint_every: int = 5
    """Write a checkpoint after every N steps (0: only at the end)."""
    keep_checkpoints: int = 2
    threads: int = 1
    """torch CPU threads."""
    progress: bool = True
    """Show a rich progress bar."""


class ToyTaskConfig(_Section):
    """`kind: toy`: the toy shell (`ale/ToyShell-v0`), word-level tokens, expert prefixes."""

    kind: Literal["toy"] = "toy"
    env_id: str = "ale/ToyShell-v0"
    max_turns: int = 8
    infra_error_rate: float = 0.0
    """Share of steps that fail for infrastructure reasons (exercises dynamic filtering)."""
    reset_delay_s: float = 0.0
    """Extra latency of every reset (seconds): stands in for a sandbox start in benchmarks."""
    step_delay_s: float = 0.0
    """Extra latency of every step (seconds): stands in for a command in a sandbox."""
    task_ids: list[str] = Field(default_factory=list)
    """Restrict to these task ids (empty: all)."""


class SandboxTaskConfig(_Section):
    """`kind: sandbox`: any registered chunk-level env id (`ale/SWEMini-v0`, `ale/TBMini-v0`,
    `ale/SWEBench-v0`, `ale/TerminalBench-v0`, `ale/TerminalBenchPro-v0`, ...) with a
    transformers chat model; episodes run an agents config."""

    kind: Literal["sandbox"] = "sandbox"
    env_id: str = "ale/SWEMini-v0"
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    """More keyword arguments of the env: `suite`, `dataset` (a SWE-bench file, a folder of
    Terminal-Bench / Harbor tasks), `split`, `action_format`, limits."""
    backend: str = "docker"
    """Sandbox backend: docker, local or auto."""
    task_ids: list[str] = Field(default_factory=list)
    """Restrict to these task ids (empty: all of the suite)."""
    max_turns: int = 8
    agent: str = "swe"
    """The agents config (a shipped name or a YAML path)."""
    max_observation_tokens: int = 256
    """Observations are cut to about this many tokens before they enter the context."""
    experts: Literal["none", "oracle"] = "none"
    """Start states: "oracle" replays prefixes of each task's reference solution
    (`oracle_actions`, then submit) as `rollout.resample` says; "none": from scratch."""


TaskConfig = Annotated[ToyTaskConfig | SandboxTaskConfig, Field(discriminator="kind")]
"""The environment and its start states; `kind` picks the section's keys."""


class ModelConfig(_Section):
    """The policy network (built locally)."""

    kind: Literal["tiny_lm", "hf_llama", "hf_path"] = "tiny_lm"
    dim: int = 64
    layers: int = 3
    heads: int = 4
    max_len: int = 160
    path: str | None = None
    tokenizer: str | None = None
    """swe: a saved HF tokenizer folder (default: `path`)."""
    init_from: str | None = None
    """Start from the model weights of this checkpoint: an `ale sft` / `ale train` run folder,
    its checkpoints/ folder or one step_N/ folder (model only: optimizer, step and policy
    version start fresh). `--resume` takes precedence once the run has its own checkpoint."""


class EngineConfig(_Section):
    """The rollout engine."""

    kind: Literal["toy", "hf", "hf_local", "vllm"] = "toy"
    device: str = "cpu"
    max_action_tokens: int = 4
    temperature: float = 1.0


class SchedulerConfig(_Section):
    """How rollout and training share the machine."""

    mode: Literal["colocated", "disaggregated", "partial", "sequential"] = "colocated"
    """colocated: ROLLOUT -> TRAIN -> SYNC with offloading and env prefetch; sequential: the
    same without prefetch or offloading (the benchmark baseline); disaggregated: rollouts in
    a background thread, async; partial: colocated, but `partial_workers` rollout workers keep
    sampling during TRAIN (shrink) and all workers sample during ROLLOUT (expand)."""
    offload: bool = True
    """colocated / partial: offload the idle side (engine during TRAIN, trainer during ROLLOUT)."""
    max_staleness: int = 1
    """disaggregated / partial: a sample more than this many policy versions old is dropped."""
    prefetch: bool = True
    """colocated: prepare the next step's environments in the background (at the latest
    during TRAIN; see `prefetch_from`)."""
    prefetch_from: Literal["episode_end", "episode_start"] = "episode_end"
    """colocated + prefetch: when an env slot starts preparing its next-step environment.
    "episode_end": once its episode of the step's last wave has finished (and the others at
    the end of ROLLOUT): best where sandboxes share CPU cores with the model (a CPU-only
    machine), since a sandbox start would slow generation. "episode_start": as soon as that
    episode has taken its own environment (double buffering: the next reset overlaps the whole
    episode and TRAIN): best where a sandbox start is mostly waiting (remote sandboxes, or a
    model on an accelerator)."""
    workers: int = 2
    """Environment workers (each holds `envs_per_worker` envs)."""
    envs_per_worker: int = 32
    partial_workers: int = 1
    """partial: rollout workers kept sampling during TRAIN."""
    ray: bool = False
    """Run environment workers as Ray actors."""
    ray_address: str | None = None
    """Connect to this Ray cluster (default: start a local one)."""
    queue_size: int = 4
    """disaggregated: rollout batches buffered ahead of the trainer."""


class RolloutConfig(_Section):
    """What one ROLLOUT phase samples."""

    starts: int = 16
    """Start states per step."""
    group_size: int = 4
    """Episodes per start state."""
    resample: Literal["parallel", "rollback", "crucial", "none"] = "parallel"
    """Chunk-level initialized resampling (paper 3.2.4) from the task's expert trajectories.
    parallel: anchors uniform in 1..K, in one batch; rollback: each expert's anchor starts at
    its last chunk and moves back once its success rate there reaches `rollback_threshold`
    (sequential curriculum); crucial: anchors at each expert's crucial chunk (where success
    from the prefix drops most), measured every `crucial_every` steps; none: from scratch."""
    scratch_frac: float = 0.25
    """Share of start states forced to anchor 1 (no prefix); parallel, rollback and crucial."""
    rollback_threshold: float = 0.8
    rollback_window: int = 0
    """rollback: episodes at an anchor that decide a move (0: twice `group_size`)."""
    crucial_every: int = 10
    """crucial: steps between two measurements of success by anchor."""
    crucial_episodes: int = 4
    """crucial: episodes per anchor and expert in one measurement."""
    prefix_start: Literal["replay", "snapshot"] = "replay"
    """How an episode reaches its start state: replay the prefix in a fresh env, or (snapshot)
    replay it once per worker, snapshot the env and restore the snapshot afterwards (envs with
    `snapshot` / `restore`; others replay)."""
    max_retries: int = 3
    """Infra-failed episodes are rerun from the same start up to this many times."""
    expert_data: str | None = None
    """An `ale data build` dataset whose episodes are the expert trajectories (the prefixes
    resampling replays and the IPA imitation term trains on) instead of the task's own: per
    task, its shortest resolved episode's env actions; a task without one starts from scratch."""


class AlgoConfig(LossConfig):
    """The loss (any name in `rl.algos.LOSSES`) and its scalar settings (`LossConfig`)."""

    loss: str = "ipa"

    def loss_config(self) -> LossConfig:
        """The settings without the loss name, as the loss functions take them."""
        return LossConfig(**self.model_dump(exclude={"loss"}))


class TrainerConfig(_Section):
    """Optimizer and batching."""

    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    update_epochs: int = 2
    micro_batch: int = 16
    max_grad_norm: float = 1.0


class EvalConfig(_Section):
    """Success from scratch, measured with the engine after SYNC."""

    every: int = 5
    episodes: int = 64
    target: float = 0.8


class TrainConfig(_Section):
    """A whole `ale train` run."""

    run: RunConfig = Field(default_factory=RunConfig)
    task: TaskConfig = Field(default_factory=ToyTaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    algo: AlgoConfig = Field(default_factory=AlgoConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)


CONFIG_DIR = Path(__file__).parent / "configs"


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read and validate a YAML config (a path, or a shipped name such as `toy_ipa`);
    `overrides` are `section.key=value` strings."""
    return load_yaml(TrainConfig, path, overrides or [], CONFIG_DIR, "training config")


def parse_config(data: dict[str, Any], source: str = "<config>") -> TrainConfig:
    """Validate a mapping of sections (as read from YAML)."""
    return validate(TrainConfig, data, source, "training config")
