"""`ale train CONFIG.yaml [--resume] [--set section.key=value ...]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envs.core.config import ConfigError
from rl.config import load_config


def train_cmd(
    config: Annotated[Path, typer.Argument(help="training config (see rl/configs/*.yaml)")],
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from the last checkpoint")
    ] = False,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a key, e.g. --set run.steps=20 (repeatable)"),
    ] = None,
    out_dir: Annotated[str | None, typer.Option(help="run folder (overrides run.out_dir)")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress")] = False,
) -> None:
    """Train a policy: ROLLOUT -> TRAIN -> SYNC, metrics to JSONL + TensorBoard, checkpoints."""
    from rl.train_loop import train

    items = list(overrides or [])
    if out_dir:
        items.append(f"run.out_dir={out_dir}")
    try:
        cfg = load_config(config, items)
        summary = train(cfg, resume=resume, progress=False if no_progress else None)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    phases = " ".join(f"{k}={v:.1f}s" for k, v in summary.phase_totals.items())
    typer.echo(
        f"run: {summary.run_dir}  steps {summary.start_step}->{summary.steps}  "
        f"episodes={summary.episodes} dropped={summary.dropped}  "
        f"success {summary.initial_success} -> {summary.final_success}  {phases}"
    )
