"""The `ale sft` loop: stage 1, then stage 2 (adaptive value revisiting), on `ale train`'s
trainer (`rl.trainer.Trainer.sft_step`) and model builder.

Run folder (as `ale train`'s): `metrics.jsonl` (one row per step: stage, loss, grad norm, lr,
tokens and policy tokens; `eval_success` where evaluated; stage-2 epoch rows add the weights' spread),
`events.jsonl`, `tb/` (TensorBoard), `checkpoints/` (the format `ale train` loads with
`model.init_from`; the last step of each stage is always saved, stage 1's also to `stage1/`,
out of the rotation) and `curves.png`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from envs.core.config import ConfigError
from rl.checkpoint import find_checkpoint, load_checkpoint, rng_state, save_checkpoint
from rl.engines import make_engine
from rl.loss_config import LossConfig
from rl.models import build_model
from rl.packing import PackedBatch
from rl.records import Ledger
from rl.sft.config import SFTConfig
from rl.sft.data import SFTData, load_sft_data
from rl.sft.weights import effective_size, revisit, value_weights
from rl.train_loop import log_scalars, make_task, plot_curves, tensorboard_writer
from rl.trainer import Trainer

#: (step, stage, dataset row indices, the packed micro-batches) of every update.
BatchHook = Callable[[int, int, list[int], list[PackedBatch]], None]


@dataclass
class SFTSummary:
    """What an SFT run measured."""

    run_dir: Path
    steps: int
    stage1_success: float | None
    """Success from scratch after stage 1 (None: not evaluated)."""
    final_success: float | None
    initial_success: float | None
    wall_s: float
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: dict[int, Path] = field(default_factory=dict)
    """stage -> the checkpoint written at its last step."""


def _epochs(n: int, rng: random.Random) -> Iterator[int]:
    """Stage 1's sample order: shuffled epochs, endlessly."""
    while True:
        order = list(range(n))
        rng.shuffle(order)
        yield from order


class _Stage2:
    """Stage 2's sample order: epochs drawn by value weights re-measured at each epoch start."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.queue: list[int] = []
        self.gen = torch.Generator().manual_seed(run.cfg.run.seed + 2)

    def take(self, k: int) -> tuple[list[int], dict[str, float]]:
        info: dict[str, float] = {}
        out: list[int] = []
        while len(out) < k:
            if not self.queue:
                info = self.refresh()
            out.append(self.queue.pop(0))
        return out, info

    def refresh(self) -> dict[str, float]:
        run, data = self.run, self.run.data
        losses = run.sample_losses()
        w = value_weights(losses, data.difficulty, data.reward, data.task_ids, run.cfg.stage2)
        self.queue = revisit(w, self.gen)
        return {
            "stage2/measured_tokens": float(data.num_tokens),
            "stage2/loss_mean": float(losses.mean()),
            "stage2/weight_max": float(w.max()),
            "stage2/weight_min": float(w.min()),
            "stage2/ess": effective_size(w),
            "stage2/distinct": float(len(set(self.queue))) / len(self.queue),
        }


class _Run:
    def __init__(self, cfg: SFTConfig) -> None:
        self.cfg = cfg
        m = cfg.model
        self.data: SFTData = load_sft_data(  # first: a bad dataset fails before any build
            cfg.data.path, cfg.data.limit, m.max_len if m.kind == "tiny_lm" else None
        )
        self.task = make_task(cfg.train_config())
        model = build_model(
            m.kind,
            self.task.vocab_size,
            m.dim,
            m.layers,
            m.heads,
            m.max_len,
            self.task.model_path or m.path,
        )
        cpu = cfg.engine.device == "cpu"
        # sft_step never calls the RL loss: the name and settings are the defaults
        self.trainer = Trainer(
            model, cfg.optim.trainer_config(), "ipa", LossConfig(), self.task.pad_id, cpu=cpu
        )
        if m.init_from:
            init = find_checkpoint(m.init_from)
            self.trainer.load_model(load_checkpoint(init)[0]["trainer"]["model"], str(init))
        self._engine: Any = None

    def micro(self, indices: list[int]) -> list[PackedBatch]:
        n = max(self.cfg.optim.micro_batch, 1)
        return [
            self.data.batch(indices[i : i + n], self.task.pad_id) for i in range(0, len(indices), n)
        ]

    def sample_losses(self) -> torch.Tensor:
        """The current model's loss per dataset row, shape (rows,)."""
        every_row = self.micro(list(range(len(self.data))))
        return torch.cat([self.trainer.sample_losses(b) for b in every_row])

    def evaluate(self, seed: int) -> float:
        if self._engine is None:
            self._engine = make_engine(
                self.cfg.engine.kind,
                self.trainer.unwrapped,
                pad_id=self.task.pad_id,
                device=self.cfg.engine.device,
                eos_ids=self.task.stop_ids,
            )
        self._engine.update_weights(self.trainer.weights(), self.trainer.version)
        return self.task.evaluate(self._engine, self.cfg.eval.episodes, seed)


def sft(
    cfg: SFTConfig,
    on_batch: BatchHook | None = None,
    quiet: bool = False,
    out: TextIO | None = None,
) -> SFTSummary:
    """Run stage 1 (`stage1.steps`) then stage 2 (`stage2.steps`) as configured."""
    run_dir = Path(cfg.run.out_dir)
    if (run_dir / "events.jsonl").exists():
        raise ConfigError(f"{run_dir} already holds a run; set run.out_dir to a new folder")
    torch.set_num_threads(cfg.run.threads)
    random.seed(cfg.run.seed)
    np.random.seed(cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    run = _Run(cfg)
    ledger = Ledger(run_dir, 0)
    ledger.write(
        "events",
        {"event": "start", "kind": "sft", "rows": len(run.data), "time": time.time()},
    )
    writer = tensorboard_writer(run_dir / "tb")
    show = cfg.run.progress and not quiet

    def say(text: str) -> None:
        if show:
            print(text, file=out, flush=True)

    total = cfg.stage1.steps + cfg.stage2.steps
    summary = SFTSummary(run_dir, total, None, None, None, 0.0)
    every = cfg.eval.every if cfg.eval.episodes > 0 else 0
    t0 = time.perf_counter()
    order1 = _epochs(len(run.data), random.Random(cfg.run.seed + 1))
    stage2 = _Stage2(run)
    try:
        if every > 0:
            summary.initial_success = summary.final_success = run.evaluate(cfg.run.seed + 10_000)
            row0 = {"step": 0, "stage": 0, "eval_success": summary.initial_success}
            ledger.write("metrics", row0)
            summary.history.append(row0)
        for step in range(1, total + 1):
            stage = 1 if step <= cfg.stage1.steps else 2
            k = cfg.optim.batch_size
            info: dict[str, float] = {}
            if stage == 1:
                indices = [next(order1) for _ in range(k)]
            else:
                indices, info = stage2.take(k)
            micro = run.micro(indices)
            if on_batch is not None:
                on_batch(step, stage, indices, micro)
            metrics = run.trainer.sft_step([(b, torch.ones(b.input_ids.shape[0])) for b in micro])
            row: dict[str, Any] = {
                "step": step,
                "stage": stage,
                **metrics,
                **info,
                "wall_s": time.perf_counter() - t0,
            }
            last_of_stage = step in (cfg.stage1.steps, total)
            if every > 0 and (step % every == 0 or last_of_stage):
                row["eval_success"] = run.evaluate(cfg.run.seed + 10_000 + step)
                summary.final_success = row["eval_success"]
                if stage == 1 and step == cfg.stage1.steps:
                    summary.stage1_success = row["eval_success"]
                say(f"sft step {step}/{total} stage {stage}: success {row['eval_success']:.3f}")
            ledger.write("metrics", row)
            summary.history.append(row)
            log_scalars(writer, row, step)
            ck = cfg.run.checkpoint_every
            if last_of_stage or (ck > 0 and step % ck == 0):
                state = {"trainer": run.trainer.state(), "rng": rng_state()}
                meta = {"cursor": 0, "version": run.trainer.version, "attempt": 0, "stage": stage}
                path = save_checkpoint(
                    run_dir / "checkpoints",
                    step,
                    state,
                    meta,
                    keep=max(cfg.run.keep_checkpoints, 2),
                )
                if last_of_stage:
                    summary.checkpoints[stage] = path
                if step == cfg.stage1.steps and cfg.stage2.steps > 0:  # kept out of rotation
                    summary.checkpoints[1] = save_checkpoint(run_dir / "stage1", step, state, meta)
    finally:
        run.task.close()
        ledger.close()
        if writer is not None:
            writer.close()
    summary.wall_s = time.perf_counter() - t0
    plot_curves(run_dir)
    say(
        f"sft: {total} steps in {summary.wall_s:.1f}s; run folder {run_dir} (metrics.jsonl, tb/, "
        f"checkpoints/, curves.png); success {summary.final_success}"
    )
    return summary
