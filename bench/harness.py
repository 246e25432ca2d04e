"""`run_bench`: attempts in parallel sandboxes, a live progress bar, resume, bounded retries.

An `EpisodeRunner` runs one attempt end to end (env, agent, grading) and returns an
`AttemptResult`; the harness owns scheduling, retries of infrastructure failures, the ledger
and the derived files. Orphaned sandboxes of this run (a previous harness killed mid-run)
are collected when a run starts and when it ends; nobody else's (`envs.rock.gc.GcScope`).
"""

from __future__ import annotations

import logging
import threading
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

from bench.metrics import attempts_summary, predictions, status_summary, swebench_report
from bench.store import ERROR_STATUSES, AttemptResult, RunStore, run_id_of

log = logging.getLogger(__name__)
EpisodeRunner = Callable[[str, int, RunStore], AttemptResult]


def run_attempt_with_retries(
    runner: EpisodeRunner, task_id: str, attempt: int, store: RunStore, max_infra_retries: int
) -> AttemptResult:
    """Run once; re-run (from a fresh sandbox) while it fails for infrastructure reasons."""
    retries = 0
    while True:
        try:
            result = runner(task_id, attempt, store)
        except Exception as exc:  # a runner bug or a dead engine: recorded, never lost
            result = AttemptResult(
                task_id, attempt, "infra_error", error=f"{type(exc).__name__}: {exc}"
            )
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
) -> dict[str, Any]:
    """Run every (task, attempt) not in the ledger yet; returns the report."""
    if collect_orphans:
        collect_quietly(run_id_of(store.root))
    done = store.done()
    todo = [(t, a) for a in range(attempts) for t in task_ids if (t, a) not in done]
    prior = store.results()
    counts = {
        "resolved": sum(r.resolved for r in prior),
        "errors": sum(r.status in ERROR_STATUSES for r in prior),
    }
    lock = threading.Lock()
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
    with progress:
        bar = progress.add_task(
            "bench",
            total=len(task_ids) * attempts,
            completed=len(done),
            resolved=counts["resolved"],
            errors=counts["errors"],
        )
        with ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="ale-bench"
        ) as pool:
            pending: dict[Future[AttemptResult], tuple[str, int]] = {}
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < workers:
                    t, a = queue.pop(0)
                    pending[
                        pool.submit(
                            run_attempt_with_retries, runner, t, a, store, max_infra_retries
                        )
                    ] = (t, a)
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    pending.pop(fut)
                    result = fut.result()
                    with lock:
                        store.append(result)
                        counts["resolved"] += result.resolved
                        counts["errors"] += result.status in ERROR_STATUSES
                        progress.update(
                            bar, advance=1, resolved=counts["resolved"], errors=counts["errors"]
                        )
                        write_outputs(store, task_ids, attempts, model_name)
    report = write_outputs(store, task_ids, attempts, model_name)
    if collect_orphans:
        collect_quietly(run_id_of(store.root))
    return report


def collect_quietly(run_id: str) -> int:
    """Remove orphaned sandboxes of run `run_id` (`envs.rock.gc.collect`, scoped to the run's
    label); a failure (the engine is down, a container vanished meanwhile) is logged, never
    fatal to the run. Returns how many."""
    from envs.rock.api import LABEL_RUN
    from envs.rock.gc import GcScope, collect

    try:
        return len(collect(GcScope(labels={LABEL_RUN: run_id})))
    except Exception as exc:  # gc is housekeeping: the run's results matter more
        log.warning(
            "orphan collection failed (%s: %s); `ale sandbox gc --run` retries it",
            type(exc).__name__,
            exc,
        )
        return 0
