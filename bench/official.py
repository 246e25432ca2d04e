"""The official SWE-bench report over a run folder, to check ours against.

`official_report` lays the ledger out as `swebench.harness.run_evaluation` leaves its logs
(`logs/run_evaluation/<run_id>/<model>/<instance_id>/{report.json, test_output.txt,
run_instance.log, patch.diff}`) and calls `swebench.harness.reporting.make_run_report`.
A graded attempt gets a report.json; one that failed before or during grading does not.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from pathlib import Path
from typing import Any

from bench.metrics import OWN_KEYS, by_task, predictions
from bench.store import RunStore

_LOCK = threading.Lock()  # make_run_report reads a module-level log directory


def official_report(
    run_dir: Path,
    task_ids: list[str],
    model_name: str,
    out_dir: Path | None = None,
    run_id: str = "ale-bench",
) -> dict[str, Any]:
    """The report `make_run_report` writes for this run's first attempts (no Docker client)."""
    from swebench.harness import reporting
    from swebench.harness.constants import LOG_INSTANCE, LOG_REPORT, LOG_TEST_OUTPUT

    store = RunStore(run_dir)
    results = store.results()
    out = Path(out_dir or run_dir / "official").resolve()
    log_root = out / "logs" / "run_evaluation"
    model_dir = log_root / run_id / model_name.replace("/", "__")
    for tid, rs in by_task(results).items():
        r = rs[0]
        folder = model_dir / tid
        folder.mkdir(parents=True, exist_ok=True)
        for name in (LOG_REPORT, LOG_TEST_OUTPUT, LOG_INSTANCE):
            (folder / name).unlink(missing_ok=True)
        (folder / "patch.diff").write_text(r.model_patch or "")
        grade_log = store.log_path(tid, r.attempt, "grade")
        if grade_log.exists() and grade_log.read_text():
            (folder / LOG_TEST_OUTPUT).write_text(grade_log.read_text())
        if r.error:
            (folder / LOG_INSTANCE).write_text(r.error)
        if r.status in ("resolved", "unresolved"):
            (folder / LOG_REPORT).write_text(json.dumps({tid: {"resolved": r.resolved}}))
    preds = {p["instance_id"]: p for p in predictions(results, model_name)}
    if not preds:
        raise ValueError(f"{run_dir} has no results yet")
    with _LOCK, contextlib.redirect_stdout(io.StringIO()):
        saved = reporting.RUN_EVALUATION_LOG_DIR
        reporting.RUN_EVALUATION_LOG_DIR = log_root
        try:
            path = reporting.make_run_report(
                preds,
                [{"instance_id": t} for t in task_ids],
                run_id,
                client=None,
                report_dir=str(out),
            )
        finally:
            reporting.RUN_EVALUATION_LOG_DIR = saved
    return dict(json.loads(Path(path).read_text()))


def official_part(report: dict[str, Any]) -> dict[str, Any]:
    """`report` without our own fields (`bench.metrics.OWN_KEYS`): what the official one has."""
    return {k: v for k, v in report.items() if k not in OWN_KEYS}
