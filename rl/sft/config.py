"""`ale sft` configuration: strict YAML through the one loader (`envs.core.config`).

The `run`, `task`, `model`, `engine` and `eval` sections are `ale train`'s own (`rl.config`), so
the model an SFT run writes is the model a training config with the same sections builds, and
`model.init_from` in that config starts from it. `data`, `optim`, `stage1`, `stage2` are
SFT's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from envs.core.config import StrictModel, load_yaml, validate
from rl.config import (
    EngineConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TaskConfig,
    ToyTaskConfig,
    TrainConfig,
    TrainerConfig,
)


class _Section(StrictModel):
    model_config = ConfigDict(frozen=True)


class DataSection(_Section):
    """The dataset (an `ale data build` folder): rows' `input_ids` and `loss_mask` are trained
    on as recorded (never re-tokenized)."""

    path: str = "data/toy"
    """The `--out` folder of `ale data build`."""
    limit: int = 0
    """Use only the first N rows (0: all)."""


class OptimSection(_Section):
    """Optimizer and batching (one optimizer update per step)."""

    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    batch_size: int = 16
    """Samples (trajectories) per update."""
    micro_batch: int = 16
    """Trajectories per forward pass (gradients accumulate to the full batch's)."""
    max_grad_norm: float = 1.0

    def trainer_config(self) -> TrainerConfig:
        return TrainerConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_steps=self.warmup_steps,
            update_epochs=1,
            micro_batch=self.micro_batch,
            max_grad_norm=self.max_grad_norm,
        )


class Stage1Section(_Section):
    """Stage 1: epochs over the filtered set, shuffled, every sample weight 1."""

    steps: int = 40


class Stage2Section(_Section):
    """Stage 2, adaptive value revisiting (docs/sft.md has the formula): at the start of every
    epoch (dataset size / batch size steps) the current model's loss on each sample is
    measured and the epoch draws samples with replacement in proportion to their weight."""

    steps: int = 0
    """0: no stage 2."""
    loss_exp: float = 1.0
    """a: exponent of the hard-but-learnable factor H (the sample's loss over the median)."""
    difficulty_exp: float = 1.0
    """b: exponent of (eps + difficulty) (1 - the teacher's pass rate on the task)."""
    success_exp: float = 1.0
    """c: exponent of (eps + success) (the sample's reward, clipped to [0, 1])."""
    novelty_exp: float = 1.0
    """d: exponent of the novelty factor 1 / (samples of the same task)."""
    learnable_cap: float = 3.0
    """A sample whose loss is above this many times the median is not learnable yet: H decays."""
    eps: float = 0.1
    """Floor added to difficulty and success (a factor of 0 would never revisit a sample)."""
    uniform_mix: float = 0.2
    """Share of uniform weight mixed in (every sample keeps >= this share of its uniform weight)."""


class SFTConfig(_Section):
    """A whole `ale sft` run."""

    run: RunConfig = Field(default_factory=lambda: RunConfig(out_dir="runs/sft"))
    task: TaskConfig = Field(default_factory=ToyTaskConfig)
    """The task whose tokenizer and model the data was recorded with (and evaluation runs on)."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    """The engine evaluation samples with."""
    eval: EvalConfig = Field(default_factory=EvalConfig)
    """Success from scratch every `every` steps and at the end of each stage (0: never)."""
    data: DataSection = Field(default_factory=DataSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    stage1: Stage1Section = Field(default_factory=Stage1Section)
    stage2: Stage2Section = Field(default_factory=Stage2Section)

    def train_config(self) -> TrainConfig:
        """The `ale train` view of the shared sections (to build the task and the model)."""
        return TrainConfig(
            run=self.run, task=self.task, model=self.model, engine=self.engine, eval=self.eval
        )


CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "sft"


def load_sft_config(path: str | Path, overrides: list[str] | None = None) -> SFTConfig:
    """Read and validate an SFT config (a path or a shipped name such as `toy_sft`)."""
    return load_yaml(SFTConfig, path, overrides or [], CONFIG_DIR, "sft config")


def parse_sft_config(data: dict[str, Any], source: str = "<config>") -> SFTConfig:
    return validate(SFTConfig, data, source, "sft config")
