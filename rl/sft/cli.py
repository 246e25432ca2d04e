"""`ale sft CONFIG.yaml [--set section.key=value ...]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sft_cmd(
    config: Annotated[Path, typer.Argument(help="sft config (see rl/configs/sft/toy_sft.yaml)")],
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a key, e.g. --set stage2.steps=20 (repeatable)"),
    ] = None,
    out_dir: Annotated[str | None, typer.Option(help="run folder (overrides run.out_dir)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")] = False,
) -> None:
    """Supervised fine-tuning on an `ale data build` dataset: loss on the policy's recorded
    tokens only, stage 1 (uniform) then stage 2 (adaptive value revisiting); checkpoints that
    `ale train` starts from with `model.init_from`, metrics to JSONL + TensorBoard + PNG."""
    from rl.sft.config import load_sft_config
    from rl.sft.train import sft

    items = list(overrides or [])
    if out_dir:
        items.append(f"run.out_dir={out_dir}")
    sft(load_sft_config(config, items), quiet=quiet)
