"""Harness mechanics with an in-process runner: ledger, resume, retries, report fields, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from bench.harness import run_bench
from bench.metrics import pass_at_k, swebench_report
from bench.report import compare, write_report
from bench.store import AttemptResult, RunStore

OFFICIAL_FIELDS = {
    "total_instances",
    "submitted_instances",
    "completed_instances",
    "resolved_instances",
    "unresolved_instances",
    "empty_patch_instances",
    "error_instances",
    "completed_ids",
    "incomplete_ids",
    "empty_patch_ids",
    "submitted_ids",
    "resolved_ids",
    "unresolved_ids",
    "error_ids",
    "schema_version",
}


def runner_for(outcomes: dict[str, str], calls: list[tuple[str, int]]):  # type: ignore[no-untyped-def]
    def run(task_id: str, attempt: int, store: RunStore) -> AttemptResult:
        calls.append((task_id, attempt))
        status = outcomes[task_id]
        if status == "flaky-infra" and calls.count((task_id, attempt)) < 2:
            return AttemptResult(task_id, attempt, "infra_error", error="sandbox died")
        status = "resolved" if status == "flaky-infra" else status
        return AttemptResult(
            task_id,
            attempt,
            status,
            reward=float(status == "resolved"),  # type: ignore[arg-type]
            model_patch="" if status == "empty_patch" else "diff --git a/x b/x\n",
            turns=3,
            tokens=100,
            duration_s=0.1,
            category="cat-" + task_id[:1],
        )

    return run


def test_report_fields_resume_and_retries(tmp_path: Path) -> None:
    outcomes = {
        "a1": "resolved",
        "a2": "unresolved",
        "b1": "empty_patch",
        "b2": "flaky-infra",
        "c1": "agent_error",
    }
    calls: list[tuple[str, int]] = []
    store = RunStore(tmp_path / "run")
    report = run_bench(
        store,
        sorted(outcomes),
        runner_for(outcomes, calls),
        "m",
        workers=2,
        show_progress=False,
        collect_orphans=False,
    )
    assert set(report) >= OFFICIAL_FIELDS
    assert report["resolved_ids"] == ["a1", "b2"] and report["empty_patch_ids"] == ["b1"]
    assert report["error_ids"] == ["c1"] and report["unresolved_ids"] == ["a2"]
    assert calls.count(("b2", 0)) == 2  # one infra retry
    assert [r.infra_retries for r in store.results() if r.task_id == "b2"] == [1]
    preds = [
        json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    ]
    assert [p["instance_id"] for p in preds] == sorted(outcomes)
    assert set(preds[0]) == {"instance_id", "model_name_or_path", "model_patch"}
    # resume: nothing re-runs, nothing duplicates
    calls.clear()
    again = run_bench(
        store,
        sorted(outcomes),
        runner_for(outcomes, calls),
        "m",
        show_progress=False,
        collect_orphans=False,
    )
    assert calls == [] and again == report


def test_torn_ledger_line_is_rerun_not_lost(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.append(AttemptResult("t1", 0, "resolved", reward=1.0))
    with store.ledger.open("a") as f:
        f.write('{"task_id": "t2", "attempt": 0, "sta')  # killed mid-write
    assert store.done() == {("t1", 0)}
    calls: list[tuple[str, int]] = []
    run_bench(
        store,
        ["t1", "t2"],
        runner_for({"t1": "resolved", "t2": "resolved"}, calls),
        "m",
        show_progress=False,
        collect_orphans=False,
    )
    assert calls == [("t2", 0)]
    assert sorted((r.task_id, r.attempt) for r in store.results()) == [("t1", 0), ("t2", 0)]
    assert len(store.ledger.read_text().splitlines()) == 3  # the torn line stays, sealed, ignored


def test_pass_at_k_and_avg(tmp_path: Path) -> None:
    assert pass_at_k(5, 0, 3) == 0.0 and pass_at_k(5, 5, 1) == 1.0
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    store = RunStore(tmp_path)
    flips = iter(["resolved", "unresolved", "unresolved", "resolved", "resolved", "resolved"])

    def runner(task_id: str, attempt: int, store: RunStore) -> AttemptResult:
        return AttemptResult(task_id, attempt, next(flips))  # type: ignore[arg-type]

    report = run_bench(
        store,
        ["x", "y"],
        runner,
        "m",
        attempts=3,
        workers=1,
        show_progress=False,
        collect_orphans=False,
    )
    # attempts run attempt-major: x0 y0 x1 y1 x2 y2 -> x: R U R, y: U R R
    assert report["pass@1"] == pytest.approx(2 / 3) and report["pass@3"] == 1.0
    assert report["avg@3"] == pytest.approx(2 / 3)


def test_report_markdown_and_pngs(tmp_path: Path) -> None:
    outcomes = {"a1": "resolved", "a2": "unresolved", "b1": "empty_patch"}
    for name in ("run_a", "run_b"):
        run_bench(
            RunStore(tmp_path / name),
            sorted(outcomes),
            runner_for(outcomes, []),
            "m",
            show_progress=False,
            collect_orphans=False,
        )
        outcomes["a2"] = "resolved"
    md = write_report(tmp_path / "run_a").read_text()
    assert "resolved_instances" in md and "| a1 | 0 | resolved |" in md
    for png in ("resolve_by_category", "turns_per_task", "time_per_task", "tokens_per_task"):
        path = tmp_path / "run_a" / f"{png}.png"
        assert path.stat().st_size > 1000 and f"({png}.png)" in md
        with Image.open(path) as img:
            assert img.size[0] > 100 and img.getextrema() != (
                (255, 255),
                (255, 255),
                (255, 255),
                (255, 255),
            )
    assert compare(tmp_path / "run_a", tmp_path / "run_b") == [("a2", "unresolved", "resolved")]


def test_swebench_report_counts_incomplete() -> None:
    report = swebench_report([AttemptResult("a", 0, "resolved")], ["a", "b"])
    assert report["incomplete_ids"] == ["b"] and report["completed_instances"] == 1
