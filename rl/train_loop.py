"""The `ale train` loop: build everything from a config, run ROLLOUT/TRAIN/SYNC steps, log,
evaluate, checkpoint, and resume.

Run folder: `metrics.jsonl`, `phases.jsonl`, the ledger files of `rl.records`, `tb/`
(TensorBoard), `checkpoints/`, and `curves.png` at the end.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from envs.core.config import ConfigError
from rl.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rl.config import TrainConfig
from rl.engines import make_engine
from rl.models import build_model
from rl.records import Ledger, read_jsonl
from rl.scheduler import PhaseLog, make_scheduler
from rl.tasks import RolloutTask
from rl.trainer import Trainer
from rl.workers import WorkerGroup

StepHook = Callable[[int, dict[str, Any]], None]


@dataclass
class TrainSummary:
    """What a run measured (read back from the run folder by tests)."""

    run_dir: Path
    start_step: int
    steps: int
    initial_success: float | None
    final_success: float | None
    phase_totals: dict[str, float]
    wall_s: float
    episodes: int
    dropped: int
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_s: float = 0.0
    """Part of `wall_s` spent writing checkpoints."""


def make_task(cfg: TrainConfig) -> RolloutTask:
    """The training task `cfg.task.kind` names (both run the same rollout path)."""
    if cfg.task.kind == "toy":
        from rl.toy.task import ToyTask

        return ToyTask(cfg)
    from rl.sandbox_task import SandboxTask

    return SandboxTask(cfg)


def _attempt(run_dir: Path) -> int:
    events = read_jsonl(run_dir / "events.jsonl")
    return max((e["attempt"] for e in events), default=-1) + 1


def train(
    cfg: TrainConfig,
    resume: bool = False,
    on_step: StepHook | None = None,
    progress: bool | None = None,
) -> TrainSummary:
    """Run (or resume) the training described by `cfg`."""
    run_dir = Path(cfg.run.out_dir)
    ckpt_dir = run_dir / "checkpoints"
    if not resume and (run_dir / "events.jsonl").exists():
        raise ConfigError(
            f"{run_dir} already holds a run; pass --resume to continue it or "
            "set run.out_dir to a new folder"
        )
    torch.set_num_threads(cfg.run.threads)
    random.seed(cfg.run.seed)
    np.random.seed(cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    task = make_task(cfg)
    m = cfg.model
    model = build_model(
        m.kind,
        task.vocab_size,
        m.dim,
        m.layers,
        m.heads,
        m.max_len,
        task.model_path or m.path,
    )
    trainer = Trainer(
        model,
        cfg.trainer,
        cfg.algo.loss,
        cfg.algo.loss_config(),
        task.pad_id,
        cpu=cfg.engine.device == "cpu",
    )
    engine = make_engine(
        cfg.engine.kind,
        trainer.unwrapped,
        pad_id=task.pad_id,
        device=cfg.engine.device,
        eos_ids=task.stop_ids,
    )
    attempt = _attempt(run_dir) if resume else 0
    ledger = Ledger(run_dir, attempt)
    start_step, cursor = 0, 0
    ckpt = latest_checkpoint(ckpt_dir) if resume else None
    if ckpt is not None:
        state, meta = load_checkpoint(ckpt)
        trainer.load_state(state["trainer"])
        set_rng_state(state["rng"])
        start_step, cursor = int(meta["step"]), int(meta["cursor"])
        engine.update_weights(trainer.weights(), trainer.version)
    ledger.write(
        "events",
        {
            "event": "resume" if resume else "start",
            "from_step": start_step,
            "from_batch": cursor,
            "checkpoint": str(ckpt) if ckpt else None,
            "time": time.time(),
        },
    )
    s = cfg.scheduler
    if s.ray:
        import ray

        if not ray.is_initialized():
            ray.init(address=s.ray_address, include_dashboard=False, log_to_driver=False)
    group = WorkerGroup(task.spec, s.workers, s.envs_per_worker, use_ray=s.ray)
    phases = PhaseLog(ledger)
    sched = make_scheduler(s, task, engine, trainer, group, phases, ledger, cursor=cursor)
    writer = _tensorboard(run_dir / "tb")
    history: list[dict[str, Any]] = []
    initial = final = None
    episodes = 0
    checkpoint_s = 0.0
    t0 = time.perf_counter()
    show = cfg.run.progress if progress is None else progress
    try:
        if start_step == 0 and cfg.eval.every > 0 and cfg.eval.episodes > 0:
            initial = final = task.evaluate(engine, cfg.eval.episodes, cfg.run.seed + 10_000)
            row0 = {"step": 0, "eval_success": initial, "wall_s": 0.0}
            ledger.write("metrics", row0)
            history.append(row0)
        with _Progress(show, cfg.run.steps, start_step) as bar:
            for step in range(start_step + 1, cfg.run.steps + 1):
                rollouts = sched.rollout(step)
                version_before = trainer.version
                metrics = sched.train(step, rollouts)
                ledger.write(
                    "trained",
                    {
                        "step": step,
                        "trainer_version": version_before,
                        "rids": [r.rid for r in rollouts],
                        "versions": [r.version for r in rollouts],
                    },
                )
                sched.sync(step)
                episodes += len(rollouts)
                row: dict[str, Any] = {
                    "step": step,
                    "version": trainer.version,
                    "episodes": len(rollouts),
                    "reward_mean": sum(r.reward for r in rollouts) / len(rollouts),
                    "train_success": sum(r.success for r in rollouts) / len(rollouts),
                    "staleness_max": max(sched.staleness, default=0),
                    "dropped": sched.dropped,
                    "wall_s": time.perf_counter() - t0,
                    **{f"time/{k}": v for k, v in phases.last.items()},
                    **{f"rss_peak_mb/{k}": v / 2**20 for k, v in phases.peak_rss.items()},
                    **metrics,
                    **task.metrics(),
                }
                if cfg.eval.every > 0 and (step % cfg.eval.every == 0 or step == cfg.run.steps):
                    final = task.evaluate(engine, cfg.eval.episodes, cfg.run.seed + 10_000 + step)
                    row["eval_success"] = final
                ledger.write("metrics", row)
                history.append(row)
                _log_tb(writer, row, step)
                if on_step is not None:
                    on_step(step, row)
                every = cfg.run.checkpoint_every
                if (every > 0 and step % every == 0) or step == cfg.run.steps:
                    tc = time.perf_counter()
                    save_checkpoint(
                        ckpt_dir,
                        step,
                        {"trainer": trainer.state(), "rng": rng_state()},
                        {"cursor": sched.cursor, "version": trainer.version, "attempt": attempt},
                        keep=cfg.run.keep_checkpoints,
                    )
                    checkpoint_s += time.perf_counter() - tc
                bar.advance(row)
    finally:
        sched.stop()
        ledger.write("workers", {"stats": group.stats(), "nodes": group.node_ids()})
        group.close()
        task.close()
        ledger.close()
        if writer is not None:
            writer.close()
    plot_curves(run_dir)
    return TrainSummary(
        run_dir,
        start_step,
        cfg.run.steps,
        initial,
        final,
        dict(phases.totals),
        time.perf_counter() - t0,
        episodes,
        sched.dropped,
        history,
        checkpoint_s,
    )


def _tensorboard(path: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional at runtime
        return None
    return SummaryWriter(str(path))


def _log_tb(writer: Any, row: dict[str, Any], step: int) -> None:
    if writer is None:
        return
    for k, v in row.items():
        if isinstance(v, (int, float)) and k != "step" and math.isfinite(float(v)):
            writer.add_scalar(k, float(v), step)
    writer.flush()


class _Progress:
    """A rich progress bar (or nothing) showing the latest reward and success."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.enabled, self.total, self.done = enabled, total, done
        self._p: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(
                TextColumn("train"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
            )
            self._p.start()
            self._task = self._p.add_task("train", total=self.total, completed=self.done, info="")
        return self

    def advance(self, row: dict[str, Any]) -> None:
        if self._p is not None:
            info = f"reward={row['reward_mean']:.2f} loss={row.get('loss', float('nan')):.3g}"
            if "eval_success" in row:
                info += f" success={row['eval_success']:.2f}"
            self._p.update(self._task, advance=1, info=info)

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()


def plot_curves(run_dir: Path) -> Path | None:
    """`curves.png`: mean rollout reward and eval success per step (whole run, all attempts)."""
    from rl.records import effective

    rows = effective(run_dir, "metrics")
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    rew = [(r["step"], r["reward_mean"]) for r in rows if "reward_mean" in r]
    ev = [(r["step"], r["eval_success"]) for r in rows if "eval_success" in r]
    if rew:
        ax.plot(*zip(*rew, strict=True), label="rollout reward (mean)")
    if ev:
        ax.plot(*zip(*ev, strict=True), marker="o", label="success from scratch (eval)")
    ax.set_xlabel("step")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    ax.set_title(run_dir.name)
    out = run_dir / "curves.png"
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
