"""`ale bench perf NAME`: the performance benchmarks (each also runs as `python -m bench.perf.NAME`)."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

perf_app = typer.Typer(
    help="Performance benchmarks; ratios against baselines measured in the same run."
)

BENCHMARKS = {
    "sandbox": "bench.perf.sandbox",
    "egress": "bench.perf.egress",
    "packing": "bench.perf.packing",
    "harness": "bench.perf.harness",
    "env": "bench.perf.env",
    "train": "bench.perf.train",
    "reset": "bench.perf.reset",
    "scaling": "bench.perf.scaling",
}


@perf_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def perf_run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(BENCHMARKS)}")],
) -> None:
    """Run benchmark NAME; extra options go to it (`ale bench perf run sandbox --quick`)."""
    if name not in BENCHMARKS:
        raise typer.BadParameter(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    importlib.import_module(BENCHMARKS[name]).main(list(ctx.args))
