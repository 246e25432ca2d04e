"""Run summaries: SWE-bench's report.json fields, pass@k and Avg@k, SWE-bench predictions."""

from __future__ import annotations

import functools
from collections import defaultdict
from math import comb
from pathlib import Path
from typing import Any, get_args

from bench.store import AttemptResult, Status

REPORT_SCHEMA_VERSION = 2


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k) for n samples, c correct.

    >>> round(pass_at_k(4, 1, 2), 4)
    0.5
    """
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} attempts per task, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def by_task(results: list[AttemptResult]) -> dict[str, list[AttemptResult]]:
    grouped: dict[str, list[AttemptResult]] = defaultdict(list)
    for r in results:
        grouped[r.task_id].append(r)
    for rs in grouped.values():
        rs.sort(key=lambda r: r.attempt)
    return dict(grouped)


def _graded(r: AttemptResult) -> bool:
    return r.status in ("resolved", "unresolved")


def _no_patch(r: AttemptResult) -> bool:
    return r.status == "empty_patch" or (
        r.status in ("agent_error", "infra_error") and not r.model_patch
    )


def swebench_report(results: list[AttemptResult], task_ids: list[str]) -> dict[str, Any]:
    """The fields of `swebench.harness.reporting.make_run_report`, with its rules, over each
    task's first attempt (`bench.official.official_report` checks them against the real one).

    `task_ids` is the dataset; submitted: every task with a prediction; empty_patch: the
    prediction is empty (an agent or infrastructure failure without a patch counts here, as its
    prediction is empty); completed: graded; error: a patch that was not graded (grading failed,
    or it did not apply). Unresolved and error ids whose logs hold one of swebench's
    infrastructure-failure signatures are also listed as infra_failure (environment tier) or
    ambiguous_failure, with the reason in failure_reasons.
    """
    first = {tid: rs[0] for tid, rs in by_task(results).items()}
    ids: dict[str, set[str]] = {
        k: set()
        for k in (
            "completed",
            "incomplete",
            "resolved",
            "unresolved",
            "empty_patch",
            "error",
            "infra_failure",
            "ambiguous_failure",
        )
    }
    for tid in task_ids:
        r = first.get(tid)
        if r is None:
            ids["incomplete"].add(tid)
        elif _no_patch(r):
            ids["empty_patch"].add(tid)
        elif _graded(r):
            ids["completed"].add(tid)
            ids["resolved" if r.resolved else "unresolved"].add(tid)
        else:
            ids["error"].add(tid)
    reasons: dict[str, str] = {}
    for tid in ids["unresolved"] | ids["error"]:
        r = first[tid]
        if r.failure_reason:
            reasons[tid] = r.failure_reason
            ids["infra_failure" if r.failure_tier == "environment" else "ambiguous_failure"].add(
                tid
            )
    report: dict[str, Any] = {"total_instances": len(task_ids), "submitted_instances": len(first)}
    for key in (
        "completed",
        "resolved",
        "unresolved",
        "infra_failure",
        "ambiguous_failure",
        "empty_patch",
        "error",
    ):
        report[f"{key}_instances"] = len(ids[key])
    for key in ("completed", "incomplete", "empty_patch"):
        report[f"{key}_ids"] = sorted(ids[key])
    report["submitted_ids"] = sorted(first)
    for key in ("resolved", "unresolved", "infra_failure", "ambiguous_failure"):
        report[f"{key}_ids"] = sorted(ids[key])
    report["failure_reasons"] = dict(sorted(reasons.items()))
    report["error_ids"] = sorted(ids["error"])
    report["schema_version"] = REPORT_SCHEMA_VERSION
    return report


#: Our fields in report.json beside the official ones (`status_summary`, pass@k, avg@k).
OWN_KEYS = ("status_counts", "status_ids", "test_timeout_limits")


def status_summary(results: list[AttemptResult], task_ids: list[str]) -> dict[str, Any]:
    """Each task's first attempt by our status (`bench.store.Status`): `status_counts`,
    `status_ids`, and `test_timeout_limits` ({id: seconds}). Unlike the official fields, an
    error is never counted as empty_patch here."""
    first = {tid: rs[0] for tid, rs in by_task(results).items() if tid in set(task_ids)}
    statuses = get_args(Status)
    ids: dict[str, list[str]] = {
        s: sorted(t for t, r in first.items() if r.status == s) for s in statuses
    }
    ids["incomplete"] = sorted(set(task_ids) - set(first))
    return {
        "status_counts": {k: len(v) for k, v in ids.items()},
        "status_ids": ids,
        "test_timeout_limits": {
            t: r.test_timeout_s for t, r in sorted(first.items()) if r.status == "test_timeout"
        },
    }


def attempts_summary(results: list[AttemptResult], attempts: int) -> dict[str, float]:
    """pass@k for k = 1..attempts and Avg@k (mean success over all attempts)."""
    grouped = by_task(results)
    complete = {t: rs for t, rs in grouped.items() if len(rs) >= attempts}
    if not complete:
        return {}
    out: dict[str, float] = {}
    for k in range(1, attempts + 1):
        out[f"pass@{k}"] = sum(
            pass_at_k(len(rs), sum(r.resolved for r in rs), k) for rs in complete.values()
        ) / len(complete)
    out[f"avg@{attempts}"] = sum(
        sum(r.resolved for r in rs) / len(rs) for rs in complete.values()
    ) / len(complete)
    return out


def predictions(results: list[AttemptResult], model_name: str) -> list[dict[str, Any]]:
    """SWE-bench predictions, one per task (its first attempt), sorted by instance id."""
    first = {tid: rs[0] for tid, rs in by_task(results).items()}
    return [
        {"instance_id": tid, "model_name_or_path": model_name, "model_patch": r.model_patch or ""}
        for tid, r in sorted(first.items())
    ]


def classify_failure(grade_log: str, error: str | None) -> tuple[str | None, str | None]:
    """(reason, tier) of swebench's infra-failure signatures in a grade's log and error text,
    joined as the official harness joins test_output.txt and run_instance.log; (None, None)."""
    found = _infra_failure().classify_text(
        "\n".join(part for part in (grade_log, error or "") if part)
    )
    return (found[0], found[1]) if found else (None, None)


@functools.cache
def _infra_failure() -> Any:
    """`swebench.harness.infra_failure`, loaded from its file alone: importing it the usual way
    first imports the whole swebench package (docker, datasets: seconds of start-up)."""
    import importlib.util

    spec = importlib.util.find_spec("swebench")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "harness" / "infra_failure.py"
        file_spec = importlib.util.spec_from_file_location("_ale_swebench_infra_failure", path)
        if path.is_file() and file_spec and file_spec.loader:
            module = importlib.util.module_from_spec(file_spec)
            file_spec.loader.exec_module(module)
            return module
    from swebench.harness import infra_failure

    return infra_failure
