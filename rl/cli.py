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
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="no per-step output (evals and summary only)")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="plain lines, one per step (for logs)")
    ] = False,
) -> None:
    """Train a policy: ROLLOUT -> TRAIN -> SYNC, metrics to JSONL + TensorBoard, checkpoints.
    Shows a live display (step, reward/success, phase split, staleness, ETA), one line per
    eval and a final summary naming the run's files; `--quiet` prints plain lines instead."""
    from rl.train_loop import train

    items = list(overrides or [])
    if out_dir:
        items.append(f"run.out_dir={out_dir}")
    try:
        cfg = load_config(config, items)
        train(cfg, resume=resume, progress=False if no_progress else None, quiet=quiet)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
