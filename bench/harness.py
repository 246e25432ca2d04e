"""`run_bench`: attempts in parallel sandboxes, a live progress bar, resume, bounded retries.

An `EpisodeRunner` runs one attempt end to end (env, agent, grading) and returns an
`AttemptResult`; the harness owns scheduling, retries of infrastructure failures, the ledger
and the derived files. Orphaned sandboxes of this run (a previous harness killed mid-run)
are collected when a run starts and when it ends; nobody else's (`envs.rock.gc.GcScope`).
A tripped `StopSwitch` (SIGINT / SIGTERM, `bench.interrupt`) stops the run: no new attempts,
the run's sandboxes removed, the running attempts dropped unrecorded, then `Interrupted`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.interrupt import Cancelled, StopSwitch, signal_name
from bench.metrics import attempts_summary, predictions, status_summary, swebench_report
from bench.store import ERROR_STATUSES, AttemptResult, RunStore, run_id_of

log = logging.getLogger(__name__)
EpisodeRunner = Callable[[str, int, RunStore], AttemptResult]
#: How often the harness looks at its stop switch while attempts run (seconds).
POLL_S = 0.25
#: How long a stopping run waits for its running attempts once their sandboxes are removed
#: (an episode blocked on a model endpoint or an image build ends only when that call does).
DRAIN_S = 60.0


def run_attempt_with_retries(
    runner: EpisodeRunner,
    task_id: str,
    attempt: int,
    store: RunStore,
    max_infra_retries: int,
    stop: StopSwitch | None = None,
) -> AttemptResult:
    """Run once; re-run (from a fresh sandbox) while it fails for infrastructure reasons.
    Raises `Cancelled` instead of returning a result that ended after `stop` tripped: its
    sandbox may have been removed under it, so it is no verdict."""
    retries = 0
    while True:
        if stop is not None:
            stop.check()
        try:
            result = runner(task_id, attempt, store)
        except Exception as exc:  # a runner bug or a dead engine: recorded, never lost
            result = AttemptResult(
                task_id, attempt, "infra_error", error=f"{type(exc).__name__}: {exc}"
            )
        if stop is not None:
            stop.check()
        if result.status != "infra_error" or retries >= max_infra_retries:
            return replace(result, infra_retries=retries)
        retries += 1


def write_outputs(
    store: RunStore, task_ids: list[str], attempts: int, model_name: str
) -> dict[str, Any]:
    """Rebuild predictions.jsonl and report.json from the ledger."""
    results = store.results()
    report = swebench_report(results, task_ids)
    report.update(status_summary(results, task_ids))
    if attempts > 1:
        report.update(attempts_summary(results, attempts))
    store.write_jsonl("predictions.jsonl", predictions(results, model_name))
    store.write_json("report.json", report)
    return report


def run_bench(
    store: RunStore,
    task_ids: list[str],
    runner: EpisodeRunner,
    model_name: str,
    attempts: int = 1,
    workers: int = 4,
    max_infra_retries: int = 2,
    show_progress: bool = True,
    collect_orphans: bool = True,
    stop: StopSwitch | None = None,
) -> dict[str, Any]:
    """Run every (task, attempt) not in the ledger yet; returns the report.

    When `stop` trips (see `bench.interrupt`), the run stops as `stop_run` says and raises
    `Interrupted`; the ledger then holds exactly the attempts that ended before the stop."""
    stop = stop or StopSwitch()
    run_id = run_id_of(store.root)
    if collect_orphans:
        collect_quietly(run_id)
    done = store.done()
    todo = [(t, a) for a in range(attempts) for t in task_ids if (t, a) not in done]
    prior = store.results()
    counts = {
        "resolved": sum(r.resolved for r in prior),
        "errors": sum(r.status in ERROR_STATUSES for r in prior),
    }
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("resolved {task.fields[resolved]}  errors {task.fields[errors]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=not show_progress,
    )
    bar = progress.add_task(
        "bench",
        total=len(task_ids) * attempts,
        completed=len(done),
        resolved=counts["resolved"],
        errors=counts["errors"],
    )

    def record(fut: Future[AttemptResult]) -> None:
        try:
            result = fut.result()
        except Cancelled:  # ended after the stop: no verdict, the same command re-runs it
            return
        store.append(result)
        counts["resolved"] += result.resolved
        counts["errors"] += result.status in ERROR_STATUSES
        progress.update(bar, advance=1, resolved=counts["resolved"], errors=counts["errors"])
        write_outputs(store, task_ids, attempts, model_name)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ale-bench")
    pending: dict[Future[AttemptResult], tuple[str, int]] = {}
    try:
        with progress:
            queue = list(todo)
            while (queue or pending) and not stop.stopping:
                while queue and len(pending) < workers:
                    t, a = queue.pop(0)
                    fut = pool.submit(
                        run_attempt_with_retries, runner, t, a, store, max_infra_retries, stop
                    )
                    pending[fut] = (t, a)
                finished, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for fut in finished:
                    pending.pop(fut)
                    record(fut)
        running = stop_run(pending, record, run_id, stop) if stop.stopping else 0
    finally:  # a stopping run does not wait for attempts that did not end (DRAIN_S)
        pool.shutdown(wait=not stop.stopping, cancel_futures=True)
    report = write_outputs(store, task_ids, attempts, model_name)
    if stop.stopping:
        raise stop.interrupted(running)
    if collect_orphans:
        collect_quietly(run_id)
    return report


def stop_run(
    pending: dict[Future[AttemptResult], tuple[str, int]],
    record: Callable[[Future[AttemptResult]], None],
    run_id: str,
    stop: StopSwitch,
) -> int:
    """Stop a run whose switch tripped: remove its sandboxes (which ends the episodes and
    gradings in them), wait up to `DRAIN_S` (none once `stop.hurrying`) for the running
    attempts, `record` those that had ended before the stop (the others raise `Cancelled`),
    then remove what they started meanwhile. Returns how many had still not ended."""
    print(
        f"{signal_name(stop.signum or 0)}: stopping; removing this run's sandboxes and waiting "
        f"for {len(pending)} running attempt(s) (signal again to hurry)",
        file=sys.stderr,
        flush=True,
    )
    collect_quietly(run_id, live=True)
    deadline = time.monotonic() + DRAIN_S
    while pending and not stop.hurrying and time.monotonic() < deadline:
        finished, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
        for fut in finished:
            pending.pop(fut)
            record(fut)
    for fut in [f for f in pending if f.done()]:
        pending.pop(fut)
        record(fut)
    collect_quietly(run_id, live=True)
    return len(pending)


def collect_quietly(run_id: str, live: bool = False, tries: int = 3) -> int:
    """Remove orphaned sandboxes of run `run_id` (`envs.rock.gc.collect`, scoped to the run's
    label), or with `live` all of them; a listing that races with containers being removed is
    retried (`tries`); a failure (the engine is down) is logged, never fatal to the run.
    Returns how many."""
    from envs.rock.api import LABEL_RUN
    from envs.rock.gc import GcScope, collect

    for _ in range(max(1, tries)):
        try:
            return len(collect(GcScope(labels={LABEL_RUN: run_id}), live=live))
        except Exception as exc:  # gc is housekeeping: the run's results matter more
            error = exc
    log.warning(
        "could not remove run %s's sandboxes (%s: %s); `ale sandbox gc --run %s` retries it",
        run_id,
        type(error).__name__,
        error,
        run_id,
    )
    return 0
