"""The grading floor: only what grading a SWE-bench task requires, for `bench.perf.harness`.

Per task, in the shape of swebench's `run_evaluation` (`run_instance`), on the raw docker SDK:
a fresh container of the task image (the repository at `base_commit`: the prepared image the
harness's own sandboxes start from, with the same env, cpu and memory limits, network none),
the gold patch copied in and applied with `git apply`, the test patch and the eval script
copied in, the eval script run (the same script the harness runs: `official_eval.
build_test_spec`, i.e. swebench's `make_test_spec`), its output parsed by the official
parser (`get_eval_report` through `official_eval.evaluate_log`), and the container removed.
Nothing is written to disk: no ledger, trajectory, logs, report or plots.

`OpCount` names what each task did ("container", "git apply gold", "eval script", "parse",
"remove"), so a test can hold the harness and the floor to the same grading work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from swebench.harness.constants import APPLY_PATCH_PASS

from bench.perf.method import OpCount
from envs.rock.tario import files_tar
from envs.suites.swebench import official_eval

LABEL = "ale.bench.floor"
WHERE = "/tmp/ale-floor"


@dataclass(frozen=True)
class FloorResult:
    task_id: str
    seconds: float
    resolved: bool


def grade_task(task: Any, run_id: str, ops: OpCount) -> FloorResult:
    """One task graded from scratch (the image already exists: `task.ensure_image`)."""
    from envs.rock.docker_backend import client

    spec = task.sandbox_spec()
    patch = str(task.instance["patch"])
    test_spec = official_eval.build_test_spec(
        task.instance, spec.image, task.spec, f"{WHERE}/test.patch", conda=task.conda
    )
    t0 = time.perf_counter()
    container = client().containers.run(
        spec.image,
        ["sleep", "infinity"],
        detach=True,
        network_mode="none",
        working_dir=spec.workdir,
        environment=dict(spec.env),
        mem_limit=f"{spec.memory_mb}m",
        nano_cpus=int(spec.cpus * 1e9),
        labels={LABEL: run_id},
        init=True,
    )
    ops.add("container")
    try:
        container.put_archive(  # one copy of the three files
            "/",
            files_tar(
                {
                    f"{WHERE}/gold.patch": patch.encode(),
                    f"{WHERE}/test.patch": str(task.instance["test_patch"]).encode(),
                    f"{WHERE}/eval.sh": test_spec.eval_script.encode(),
                }
            ),
        )
        applied = container.exec_run(
            ["bash", "-c", f"cd {spec.workdir} && git apply -v {WHERE}/gold.patch"]
        )
        ops.add("git apply gold")
        if applied.exit_code != 0:
            raise RuntimeError(f"{task.id}: gold patch: {applied.output.decode()[-300:]}")
        result = container.exec_run(["bash", f"{WHERE}/eval.sh"])
        ops.add("eval script")
        log = f"{APPLY_PATCH_PASS}\n{result.output.decode('utf-8', 'replace')}"
        entry, _ = official_eval.evaluate_log(test_spec, log, patch)
        ops.add("parse")
    finally:
        container.remove(force=True)
        ops.add("remove")
    return FloorResult(task.id, time.perf_counter() - t0, bool(entry["resolved"]))


def grade_suite(
    load: Callable[[str], Any], ids: list[str], workers: int, backend: str, run_id: str,
    ops: OpCount,
) -> tuple[float, list[FloorResult]]:  # fmt: skip
    """(wall seconds, per-task results) for the tasks graded by `workers` threads. Each task is
    loaded (`load(id)`) and its prepared image looked up (`ensure_image`: found, not built)
    inside the clock, as swebench's harness checks its images on every run."""

    def one(task_id: str) -> FloorResult:
        task = load(task_id)
        task.ensure_image(backend)
        return grade_task(task, run_id, ops)

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max(1, workers)) as ex:
            results = list(ex.map(one, ids))
    finally:
        remove_left(run_id)
    return time.perf_counter() - t0, results


def remove_left(run_id: str) -> None:
    """Containers of this floor run that a failure left behind (our label only)."""
    from envs.rock.docker_backend import client

    for c in client().containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
        c.remove(force=True)
