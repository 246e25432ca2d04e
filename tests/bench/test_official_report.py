"""Our report.json against swebench's own `make_run_report` over the same run, field by field."""

from __future__ import annotations

from pathlib import Path

from bench.metrics import classify_failure, swebench_report
from bench.official import official_report
from bench.runners import status_of
from bench.store import AttemptResult, RunStore
from envs.core.task import Grade

PATCH = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"


def _ledger(tmp_path: Path) -> tuple[RunStore, list[str]]:
    store = RunStore(tmp_path / "run")
    rows = [
        ("r1", "resolved", PATCH, "", None),
        ("u1", "unresolved", PATCH, "1 failed", None),
        (
            "u2",
            "unresolved",
            PATCH,
            "FAILED\nTimeout error: 30 seconds exceeded.",
            None,
        ),  # ambiguous
        (
            "e1",
            "grading_error",
            PATCH,
            "",
            "Cannot connect to the Docker daemon at unix:///x",
        ),  # environment
        ("e2", "agent_error", PATCH, "error: patch failed", "patch does not apply"),
        ("p1", "empty_patch", "", "", None),
        (
            "a1",
            "agent_error",
            None,
            "",
            "PolicyError: endpoint refused",
        ),  # no patch: an empty prediction
        ("i1", "infra_error", None, "", "SandboxDead: gone"),
    ]
    for tid, status, patch, log, error in rows:
        if log:
            store.log_path(tid, 0, "grade").write_text(log)
        reason, tier = classify_failure(log, error)
        store.append(
            AttemptResult(
                tid,
                0,
                status,
                reward=float(status == "resolved"),
                model_patch=patch,  # type: ignore[arg-type]
                error=error,
                failure_reason=reason,
                failure_tier=tier,
            )
        )
    store.append(
        AttemptResult("r1", 1, "unresolved", model_patch=PATCH)
    )  # later attempts do not count
    return store, [r[0] for r in rows] + ["missing"]


def test_report_equals_official_make_run_report(tmp_path: Path) -> None:
    store, dataset = _ledger(tmp_path)
    ours = swebench_report(store.results(), dataset)
    official = official_report(store.root, dataset, "model/x")
    assert set(ours) == set(official)  # the official field list, no more, no less
    assert ours == official
    assert ours["resolved_ids"] == ["r1"] and ours["incomplete_ids"] == ["missing"]
    assert ours["empty_patch_ids"] == ["a1", "i1", "p1"] and ours["error_ids"] == ["e1", "e2"]
    assert ours["infra_failure_ids"] == ["e1"] and ours["ambiguous_failure_ids"] == ["u2"]
    assert ours["failure_reasons"] == {"e1": "container_unavailable", "u2": "tests_timed_out"}


def test_status_of_follows_official_empty_patch_rule() -> None:
    passed = Grade(reward=1.0, resolved=True)
    assert status_of(passed, "", patch_is_verdict=True) == "empty_patch"
    assert status_of(passed, None, patch_is_verdict=True) == "empty_patch"
    assert (
        status_of(passed, "", patch_is_verdict=False) == "resolved"
    )  # terminal tasks: the state is graded
    assert status_of(Grade(reward=0.0, resolved=False, error="x"), PATCH) == "grading_error"
    assert status_of(Grade(reward=0.0, resolved=False), PATCH) == "unresolved"
