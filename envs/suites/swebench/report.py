"""SWE-bench's aggregate report, written by the official `make_run_report`.

Grades are laid out as the official harness leaves its logs
(`logs/run_evaluation/<run_id>/<model>/<instance_id>/{report.json,test_output.txt,patch.diff}`)
under `out_dir`, then `swebench.harness.reporting.make_run_report` (no Docker client) counts them:
`total_instances`, `submitted_instances`, `completed_instances`, `resolved_instances`,
`unresolved_instances`, `empty_patch_instances`, `error_instances`, the `*_ids` lists, and
swebench 5's infra-failure fields. An instance whose grade has `error` gets no report.json, so
it counts as an error, as in the official harness.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swebench.harness import reporting
from swebench.harness.constants import LOG_INSTANCE, LOG_REPORT, LOG_TEST_OUTPUT

from envs.core.task import Grade

#: Fields of one instance's report.json entry (`swebench.harness.grading.get_eval_report`).
REPORT_KEYS = (
    "patch_is_None",
    "patch_exists",
    "patch_successfully_applied",
    "resolved",
    "infra_failure",
    "infra_failure_reason",
    "tests_status",
)
_LOCK = threading.Lock()  # make_run_report reads a module-level log directory


def prediction(instance_id: str, grade: Grade, model_name: str = "ale") -> dict[str, Any]:
    """The SWE-bench prediction for a graded episode (`instance_id`, `model_name_or_path`,
    `model_patch`: the agent's diff that `grade` saved, None if there was none)."""
    return {
        "instance_id": instance_id,
        "model_name_or_path": model_name,
        "model_patch": grade.report.get("model_patch"),
    }


def report_entry(grade: Grade) -> dict[str, Any] | None:
    """The report.json entry of a grade, or None for a grade that failed (`error` set)."""
    if grade.error is not None or "resolved" not in grade.report:
        return None
    return {k: grade.report[k] for k in REPORT_KEYS if k in grade.report}


def write_instance_logs(instance_id: str, grade: Grade, log_dir: Path) -> None:
    """One instance's folder, as the official harness writes it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "patch.diff").write_text(grade.report.get("model_patch") or "", encoding="utf-8")
    if grade.log:
        (log_dir / LOG_TEST_OUTPUT).write_text(grade.log, encoding="utf-8")
    entry = report_entry(grade)
    if entry is not None:
        (log_dir / LOG_REPORT).write_text(
            json.dumps({instance_id: entry}, indent=4), encoding="utf-8"
        )
    else:
        (log_dir / LOG_REPORT).unlink(missing_ok=True)
    if grade.error:
        (log_dir / LOG_INSTANCE).write_text(grade.error, encoding="utf-8")


def write_run_report(
    grades: Mapping[str, Grade],
    instances: Iterable[Mapping[str, Any]],
    run_id: str,
    out_dir: str | Path,
    model_name: str = "ale",
) -> Path:
    """Write per-instance logs and the aggregate report; returns `<out_dir>/<model>.<run_id>.json`.

    `grades` maps instance id -> `Grade` for the instances that were run; `instances` is the
    whole dataset (instances without a grade count as incomplete).
    """
    if not grades:
        raise ValueError("write_run_report needs at least one graded instance")
    out = Path(out_dir).resolve()
    log_root = out / "logs" / "run_evaluation"
    model_dir = log_root / run_id / model_name.replace("/", "__")
    for iid, grade in grades.items():
        write_instance_logs(iid, grade, model_dir / iid)
    predictions = {iid: prediction(iid, g, model_name) for iid, g in grades.items()}
    dataset = [{"instance_id": str(i["instance_id"])} for i in instances]
    with _LOCK, contextlib.redirect_stdout(io.StringIO()):
        saved = reporting.RUN_EVALUATION_LOG_DIR
        reporting.RUN_EVALUATION_LOG_DIR = log_root
        try:
            path = reporting.make_run_report(
                predictions, dataset, run_id, client=None, report_dir=str(out)
            )
        finally:
            reporting.RUN_EVALUATION_LOG_DIR = saved
    return Path(path)


def load_run_report(path: str | Path) -> dict[str, Any]:
    """The aggregate report as a dict."""
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))
