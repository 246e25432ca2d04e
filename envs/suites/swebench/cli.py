"""`ale images pull --suite FILE`: pre-pull the official images of a SWE-bench file, with progress.

    ale images pull --suite verified.jsonl [--tasks ID,...] [--namespace REGISTRY/NS]

For each instance: `present` when the engine already has it under an official name (nothing
is pulled), else the published image (`images.pull_candidates`) is pulled, with a progress bar
of the bytes downloaded. One line per task says what happened; the exit code is 1 when any
pull failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from envs.core.errors import EnvError
from envs.rock.errors import SandboxError

console = Console(stderr=True)


class _Bytes:
    """Bytes of the layers being pulled, from the engine's progress events."""

    def __init__(self) -> None:
        self.layers: dict[str, tuple[int, int]] = {}

    def update(self, event: Mapping[str, Any]) -> tuple[int, int]:
        detail = event.get("progressDetail") or {}
        if event.get("id") and detail.get("total"):
            self.layers[event["id"]] = (int(detail.get("current", 0)), int(detail["total"]))
        return sum(c for c, _ in self.layers.values()), sum(t for _, t in self.layers.values())


def pull_cmd(
    suite: Annotated[
        Path, typer.Option("--suite", exists=True, help="SWE-bench file (JSONL, JSON, parquet)")
    ],
    tasks: Annotated[
        list[str] | None,
        typer.Option("--tasks", help="only these instance ids (repeat, or comma-separated)"),
    ] = None,
    namespace: Annotated[
        str,
        typer.Option(help="where the official images are published (a registry of your own)"),
    ] = "swebench",
) -> None:
    """Pull the official images of a SWE-bench file (those not on the engine yet)."""
    from envs.suites.swebench.image_choice import local_official_image, pull_candidates, pull_image
    from envs.suites.swebench.suite import SWEBenchSuite

    ids = [t for v in tasks or [] for t in v.split(",") if t.strip()] or None
    try:
        the_suite = SWEBenchSuite(suite, task_ids=ids, namespace=namespace)
    except EnvError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    failed = 0
    for tid in the_suite.task_ids():
        instance = the_suite.instances[tid]
        present = local_official_image(instance, namespace)
        if present is not None:
            print(f"{tid}\tpresent\t{present}")
            continue
        errors = []
        for name in pull_candidates(instance, namespace):
            tally = _Bytes()
            with Progress(
                TextColumn(f"[bold]{tid}"), BarColumn(), DownloadColumn(), console=console
            ) as progress:
                bar = progress.add_task("pull", total=None)

                def show(event: Mapping[str, Any], bar: Any = bar, tally: _Bytes = tally) -> None:
                    done, total = tally.update(event)
                    progress.update(bar, completed=done, total=total or None)

                try:
                    digest = pull_image(name, progress=show)
                except SandboxError as exc:
                    errors.append(str(exc))
                    continue
            print(f"{tid}\tpulled\t{name}\t{digest}")
            break
        else:
            failed += 1
            print(f"{tid}\tfailed\t{'; '.join(errors)[:300]}")
    if failed:
        raise typer.Exit(1)
