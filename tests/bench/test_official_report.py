"""Our report.json against swebench's own `make_run_report` over the same run, field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.metrics import OWN_KEYS, classify_failure, swebench_report
from bench.official import official_part, official_report
from bench.runners import status_of, timeout_fields
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
            "infra_error",
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
    assert status_of(Grade(reward=0.0, resolved=False, error="x"), PATCH) == "infra_error"
    broken = Grade(reward=0.0, resolved=False, error="x", error_kind="task")
    assert status_of(broken, PATCH) == "task_error" and status_of(broken, "") == "task_error"
    assert status_of(Grade(reward=0.0, resolved=False), PATCH) == "unresolved"


def test_our_statuses_beside_the_official_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """results.jsonl, report.json (our fields beside the official ones) and the console line
    name every status a user can act on; the console never counts an error as empty_patch."""
    from bench.cli.run_cmds import _echo_report
    from bench.harness import write_outputs

    store, dataset = _ledger(tmp_path)
    store.append(  # as `ale bench grade` records it: the prediction has a patch
        AttemptResult("t1", 0, "task_error", model_patch=PATCH, error="the task is broken")
    )
    store.append(AttemptResult("o1", 0, "test_timeout", model_patch=PATCH, test_timeout_s=30.0))
    dataset += ["t1", "o1"]
    report = write_outputs(store, dataset, 1, "model/x")
    official = official_report(store.root, dataset, "model/x")
    assert official_part(report) == official  # the official fields and rules untouched
    assert set(OWN_KEYS) <= set(report) and not set(OWN_KEYS) & set(official)
    ids = report["status_ids"]
    assert ids["empty_patch"] == ["p1"] and ids["agent_error"] == ["a1", "e2"]
    assert ids["task_error"] == ["t1"] and ids["test_timeout"] == ["o1"]
    assert ids["infra_error"] == ["e1", "i1"] and ids["incomplete"] == ["missing"]
    assert report["empty_patch_ids"] == ["a1", "i1", "p1"]  # the official rule: no prediction
    assert report["test_timeout_limits"] == {"o1": 30.0}
    assert "o1" in report["error_ids"] and "t1" in report["error_ids"]  # officially errors
    _echo_report(report, store.root)
    line = capsys.readouterr().out.splitlines()
    assert line[0].startswith("resolved 1/11 (9.1%)")
    for part in (
        "empty_patch 1",
        "test_timeout 1",
        "task_error 1",
        "agent_error 2",
        "infra_error 2",
        "unresolved 2",
        "incomplete 1",
    ):
        assert part in line[0], part
    assert line[1] == "test_timeout: o1 ran past the 30 s test limit"


def test_timed_out_grades_are_test_timeouts_with_their_limit() -> None:
    timed_out = Grade(
        reward=0.0, resolved=False, report={"timed_out": True, "test_timeout_s": 30.0}
    )
    assert status_of(timed_out, PATCH) == "test_timeout"
    assert status_of(timed_out, "") == "empty_patch"  # no patch: the official rule first
    assert status_of(timed_out, "", patch_is_verdict=False) == "test_timeout"
    assert timeout_fields(timed_out, "test_timeout") == {
        "error": "the tests ran past the 30 s limit (test timeout)",
        "test_timeout_s": 30.0,
    }
    assert timeout_fields(Grade(reward=0.0, resolved=False, error="x"), "infra_error") == {
        "error": "x"
    }
