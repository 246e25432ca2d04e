"""The `ale train` loop: build everything from a config, run ROLLOUT/TRAIN/SYNC steps, log,
evaluate, checkpoint, and resume.

Run folder: `metrics.jsonl`, `phases.jsonl`, the ledger files of `rl.records`, `tb/`
(TensorBoard), `checkpoints/`, and `curves.png` at the end. Every step's row carries where its
wall time went (`frac/<activity>`, `cores/<activity>`: `rl.accounting`); progress is shown by
`rl.progress.TrainDisplay`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from envs.core.config import ConfigError
from rl.accounting import ACTIVITIES, Account, AccountedEngine, AccountedGroup, split_metrics
from rl.checkpoint import (
    find_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rl.config import TrainConfig
from rl.engines import make_engine
from rl.models import build_model
from rl.progress import SHORT, Mode, TrainDisplay, final_summary
from rl.records import Ledger, read_jsonl
from rl.scheduler import PhaseLog, make_scheduler
from rl.tasks import RolloutTask
from rl.trainer import Trainer

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
    activity_s: dict[str, float] = field(default_factory=dict)
    """Wall seconds of the steps by activity (`rl.accounting.ACTIVITIES`), summed over steps."""


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
    quiet: bool = False,
    out: TextIO | None = None,
) -> TrainSummary:
    """Run (or resume) the training described by `cfg`. `progress` (default `run.progress`):
    show per-step progress, as a live display or, with `quiet`, as plain lines (to `out`,
    default stdout); eval lines and the final summary are printed in every case."""
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
    init = None
    if m.init_from and not (resume and latest_checkpoint(ckpt_dir) is not None):
        init = find_checkpoint(m.init_from)
        trainer.load_model(load_checkpoint(init)[0]["trainer"]["model"], str(init))
    account = Account()
    engine = AccountedEngine(
        make_engine(
            cfg.engine.kind,
            trainer.unwrapped,
            pad_id=task.pad_id,
            device=cfg.engine.device,
            eos_ids=task.stop_ids,
        ),
        account,
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
            "init_from": str(init) if init else None,
            "time": time.time(),
        },
    )
    s = cfg.scheduler
    if s.ray:
        import ray

        if not ray.is_initialized():
            ray.init(address=s.ray_address, include_dashboard=False, log_to_driver=False)
    group = AccountedGroup(account, task.spec, s.workers, s.envs_per_worker, use_ray=s.ray)
    phases = PhaseLog(ledger, account)
    sched = make_scheduler(s, task, engine, trainer, group, phases, ledger, cursor=cursor)
    writer = tensorboard_writer(run_dir / "tb")
    history: list[dict[str, Any]] = []
    initial = final = None
    episodes = 0
    checkpoint_s = 0.0
    activity_s = dict.fromkeys(ACTIVITIES, 0.0)
    t0 = time.perf_counter()
    show = cfg.run.progress if progress is None else progress
    mode: Mode = "off" if not show else "lines" if quiet else "live"

    def evaluate(step: int, seed: int) -> float:
        te = time.perf_counter()
        with account.active("eval"):
            success = task.evaluate(engine, cfg.eval.episodes, seed)
        display.evaluation(step, success, cfg.eval.episodes, time.perf_counter() - te)
        return success

    display = TrainDisplay(mode, cfg.run.steps, start_step, run_dir, out)
    try:
        with display:
            if start_step == 0 and cfg.eval.every > 0 and cfg.eval.episodes > 0:
                initial = final = evaluate(0, cfg.run.seed + 10_000)
                row0 = {"step": 0, "eval_success": initial, "wall_s": 0.0}
                ledger.write("metrics", row0)
                history.append(row0)
            account.take()  # the steps' accounts start here
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
                    final = evaluate(step, cfg.run.seed + 10_000 + step)
                    row["eval_success"] = final
                period = account.take()
                for a, (wall, _) in period.items():
                    activity_s[a] += wall
                row.update(split_metrics(period))
                ledger.write("metrics", row)
                history.append(row)
                log_scalars(writer, row, step)
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
                display.step(row)
    finally:
        sched.stop()
        ledger.write("workers", {"stats": group.stats(), "nodes": group.node_ids()})
        group.close()
        task.close()
        ledger.close()
        if writer is not None:
            writer.close()
    plot_curves(run_dir)
    summary = TrainSummary(
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
        activity_s,
    )
    display.summary(
        final_summary(
            run_dir,
            start_step,
            cfg.run.steps,
            summary.wall_s,
            initial,
            final,
            activity_s,
            episodes,
            sched.dropped,
        )
    )
    return summary


def tensorboard_writer(path: Path) -> Any:
    """A TensorBoard `SummaryWriter` at `path` (None without tensorboard installed)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional at runtime
        return None
    return SummaryWriter(str(path))


def log_scalars(writer: Any, row: dict[str, Any], step: int) -> None:
    """Every finite number of `row` as a TensorBoard scalar at `step`."""
    if writer is None:
        return
    for k, v in row.items():
        if isinstance(v, (int, float)) and k != "step" and math.isfinite(float(v)):
            writer.add_scalar(k, float(v), step)
    writer.flush()


def plot_curves(run_dir: Path) -> Path | None:
    """`curves.png`: mean rollout reward and eval success per step (whole run, all attempts),
    and beside them where each step's wall time went (`frac/*`, stacked); an `ale sft` run
    (no phases) shows its training loss there instead."""
    from rl.records import effective

    rows = effective(run_dir, "metrics")
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4))
    rew = [(r["step"], r["reward_mean"]) for r in rows if "reward_mean" in r]
    ev = [(r["step"], r["eval_success"]) for r in rows if "eval_success" in r]
    if rew:
        ax.plot(*zip(*rew, strict=True), label="rollout reward (mean)")
    if ev:
        ax.plot(*zip(*ev, strict=True), marker="o", label="success from scratch (eval)")
    ax.set_xlabel("step")
    ax.set_ylim(-0.05, 1.05)
    if rew or ev:
        ax.legend()
    ax.set_title(run_dir.name)
    split = [r for r in rows if "frac/other" in r]
    if split:
        steps = [r["step"] for r in split]
        bx.stackplot(
            steps,
            [[r.get(f"frac/{a}", 0.0) for r in split] for a in ACTIVITIES],
            labels=[SHORT[a] for a in ACTIVITIES],
        )
        bx.set_ylim(0, 1)
        bx.set_xlabel("step")
        bx.set_title("share of each step's wall time")
        bx.legend(loc="upper left", fontsize="small", ncol=4)
    elif any("loss" in r for r in rows):
        loss = [(r["step"], r["loss"]) for r in rows if "loss" in r]
        bx.plot(*zip(*loss, strict=True), label="training loss")
        bx.set_xlabel("step")
        bx.set_yscale("log")
        bx.set_title("loss")
        bx.legend()
    out = run_dir / "curves.png"
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out
