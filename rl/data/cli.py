"""`ale data build RUN_DIR... --out DATASET [--config YAML] [--set filters.key=value ...]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

data_app = typer.Typer(help="Training data from recorded runs.", no_args_is_help=True)


@data_app.command("build")
def build_cmd(
    sources: Annotated[
        list[Path],
        typer.Argument(help="`ale bench run` folders, trajectory files or folders of them"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset folder to write")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="data config YAML (filters, tokenizer)")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a key, e.g. --set filters.max_turns=20"),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(help="tokenize text-only episodes: toy, tiny or a transformers folder"),
    ] = None,
) -> None:
    """Filter recorded episodes into a Hugging Face dataset (chat messages + token ids + policy
    masks + metadata); prints kept / dropped per filter."""
    from rl.data.build import build_dataset, load_data_config

    items = list(overrides or [])
    if tokenizer:
        items.append(f"tokenizer={tokenizer}")
    cfg = load_data_config(config, items)
    summary = build_dataset(list(sources), out, cfg)
    typer.echo(summary.table())
    typer.echo(f"dataset: {out}  (arrow/, data.jsonl, summary.json)")
