"""Run summaries: SWE-bench's report.json fields, pass@k and Avg@k, SWE-bench predictions."""

from __future__ import annotations

from collections import defaultdict
from math import comb
from typing import Any

from bench.store import ERROR_STATUSES, AttemptResult

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


def swebench_report(results: list[AttemptResult], task_ids: list[str]) -> dict[str, Any]:
    """The official harness's report fields, over each task's first attempt.

    submitted: a patch (possibly empty) was produced; completed: graded without error;
    empty_patch: the agent changed nothing; error: the agent, grader or infrastructure failed.
    """
    first = {tid: rs[0] for tid, rs in by_task(results).items()}
    ids: dict[str, list[str]] = {k: [] for k in ("submitted", "completed", "incomplete", "resolved",
                                                 "unresolved", "empty_patch", "error")}
    for tid in sorted(task_ids):
        r = first.get(tid)
        if r is None:
            ids["incomplete"].append(tid)
            continue
        if r.status in ERROR_STATUSES:
            ids["error"].append(tid)
            if r.status != "agent_error" and r.model_patch is not None:
                ids["submitted"].append(tid)
            continue
        ids["submitted"].append(tid)
        if r.status == "empty_patch":
            ids["empty_patch"].append(tid)
            continue
        ids["completed"].append(tid)
        ids["resolved" if r.resolved else "unresolved"].append(tid)
    report: dict[str, Any] = {"total_instances": len(task_ids)}
    for key in ("submitted", "completed", "resolved", "unresolved", "empty_patch", "error"):
        report[f"{key}_instances"] = len(ids[key])
    for key, values in ids.items():
        report[f"{key}_ids"] = values
    report["schema_version"] = REPORT_SCHEMA_VERSION
    return report


def attempts_summary(results: list[AttemptResult], attempts: int) -> dict[str, float]:
    """pass@k for k = 1..attempts and Avg@k (mean success over all attempts)."""
    grouped = by_task(results)
    complete = {t: rs for t, rs in grouped.items() if len(rs) >= attempts}
    if not complete:
        return {}
    out: dict[str, float] = {}
    for k in range(1, attempts + 1):
        out[f"pass@{k}"] = sum(pass_at_k(len(rs), sum(r.resolved for r in rs), k)
                               for rs in complete.values()) / len(complete)
    out[f"avg@{attempts}"] = sum(sum(r.resolved for r in rs) / len(rs) for rs in complete.values()) / len(complete)
    return out


def predictions(results: list[AttemptResult], model_name: str) -> list[dict[str, Any]]:
    """SWE-bench predictions, one per task (its first attempt), sorted by instance id."""
    first = {tid: rs[0] for tid, rs in by_task(results).items()}
    return [{"instance_id": tid, "model_name_or_path": model_name, "model_patch": r.model_patch or ""}
            for tid, r in sorted(first.items())]
