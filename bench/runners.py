"""Episode runners for the harness: turn (task id, attempt) into a graded `AttemptResult`.

* `PatchRunner`: apply a given patch (a prediction from any tool) and grade: `ale bench grade`.
* `AgentRunner`: run an agent config with a policy in the chunk-level env: `ale bench run`.
Both classify failures: the agent's (format, limits, a patch that does not apply), the
grader's, or the infrastructure's (dead sandbox, engine errors: retried by the harness).
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Any

from bench.store import AttemptResult, RunStore, Status
from envs.core.task import Grade, Task, TaskSuite
from envs.rock import SandboxError
from envs.rock.factory import create_sandbox


def status_of(grade: Grade, model_patch: str | None) -> Status:
    """resolved / unresolved / empty_patch / grading_error from a grade."""
    if grade.error is not None:
        return "grading_error"
    if model_patch is not None and not model_patch.strip():
        return "empty_patch"
    return "resolved" if grade.resolved else "unresolved"


def category_of(task: Task) -> str:
    meta = task.metadata
    return str(meta.get("category") or meta.get("domain") or meta.get("repo") or "")


@dataclass
class PatchRunner:
    """Grades predictions: a fresh sandbox per task, the patch applied at the workdir, then grade."""

    suite: TaskSuite
    patches: dict[str, str]
    backend: str = "auto"

    def __call__(self, task_id: str, attempt: int, store: RunStore) -> AttemptResult:
        t0 = time.monotonic()
        patch = self.patches.get(task_id, "")
        task = self.suite.load(task_id)
        base: dict[str, Any] = {"task_id": task_id, "attempt": attempt, "model_patch": patch,
                                "category": category_of(task)}
        try:
            task.ensure_image(self.backend)
            sandbox = create_sandbox(task.sandbox_spec(), self.backend)
        except SandboxError as exc:
            return AttemptResult(**base, status="infra_error", error=str(exc))
        try:
            task.prepare(sandbox)
            if patch.strip():
                sandbox.write("/tmp/ale-prediction.patch", patch.encode())
                applied = sandbox.run(f"cd {shlex.quote(task.workdir)} && git apply --whitespace=nowarn "
                                      "/tmp/ale-prediction.patch", timeout=120)
                if not applied.ok:
                    store.log_path(task_id, attempt, "grade").write_text(applied.output)
                    return AttemptResult(**base, status="agent_error", duration_s=time.monotonic() - t0,
                                         error=f"patch does not apply: {applied.output[-300:]}")
            grade = task.grade(sandbox)
        except SandboxError as exc:
            return AttemptResult(**base, status="infra_error", error=str(exc), duration_s=time.monotonic() - t0)
        finally:
            sandbox.close()
        store.log_path(task_id, attempt, "grade").write_text(grade.log)
        return AttemptResult(**base, status=status_of(grade, patch), reward=grade.reward, tests=grade.tests,
                             error=grade.error, duration_s=time.monotonic() - t0)
