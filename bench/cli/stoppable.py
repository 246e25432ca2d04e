"""Running the harness from a command: the run's sandboxes removed before and after, and a
SIGINT / SIGTERM turned into a clean stop, one line saying how to resume, exit 130 / 143
(`bench.interrupt`)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from typing import Any

import typer

from bench.harness import collect_quietly, run_bench
from bench.interrupt import Interrupted, StopSwitch
from bench.store import RunStore, run_id_of


def run_stoppably(
    store: RunStore,
    ids: list[str],
    runner: Any,
    model_name: str,
    stop: StopSwitch,
    close: Callable[[], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """`run_bench` with SIGINT / SIGTERM handled (`bench.interrupt`): the run's sandboxes are
    removed before it starts and after it ends (with `close`, e.g. the workers' envs, called
    first); on a signal, the report is left as far as the ledger goes, one line says how to
    resume, and the process exits 130 (SIGINT) / 143 (SIGTERM)."""
    run_id = run_id_of(store.root)
    interrupted: Interrupted | None = None
    with stop.handling(), stop.arming():
        collect_quietly(run_id, live=True)
        try:
            report = run_bench(  # one gc path: collect_quietly before and after
                store, ids, runner, model_name, stop=stop, collect_orphans=False, **options
            )
        except Interrupted as exc:
            interrupted = exc
        finally:
            if not stop.hurrying:  # a stopped run already removed its sandboxes once more
                if close is not None:
                    close()
                collect_quietly(run_id, live=True)
        if interrupted is None and stop.stopping:  # a signal after the last attempt ended
            interrupted = stop.interrupted()
    if interrupted is not None:
        exit_interrupted(interrupted, store, len(ids) * int(options.get("attempts", 1)))
    return report


def exit_interrupted(exc: Interrupted, store: RunStore, total: int) -> None:
    """Say what a signal left (recorded attempts, how to resume) and exit 128 + signal; without
    waiting for worker threads that did not end (`exc.running`: their sandboxes are gone)."""
    recorded = len(store.done())
    stuck = f"; {exc.running} attempt(s) had not ended (their sandboxes are removed)"
    typer.echo(
        f"{exc}: {recorded}/{total} attempts recorded in {store.ledger}"
        f"{stuck if exc.running else ''}; resume with the same command: "
        f"{shlex.join(['ale', *sys.argv[1:]])}",
        err=True,
    )
    if exc.running:  # interpreter exit would join those threads: end without them
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.exit_code)
    raise typer.Exit(exc.exit_code)
