"""Episode runners for the harness: turn (task id, attempt) into a graded `AttemptResult`.

* `PatchRunner`: apply a given patch (a prediction from any tool) and grade: `ale bench grade`.
* `AgentRunner`: run an agent config with a policy in the chunk-level env: `ale bench run`.
Both classify failures: the agent's (format, limits, a patch that does not apply), the
grader's, or the infrastructure's (dead sandbox, engine errors: retried by the harness).
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.metrics import classify_failure
from bench.store import AttemptResult, RunStore, Status
from bench.tasks import grades_a_patch
from envs.core.errors import EnvError, TaskError
from envs.core.task import Grade, Task, TaskSuite
from envs.rock import Sandbox, SandboxError
from envs.rock.egress.audit import count as audit_counts
from envs.rock.factory import create_sandbox


def status_of(grade: Grade, model_patch: str | None, patch_is_verdict: bool = True) -> Status:
    """resolved / unresolved / empty_patch / test_timeout from a grade, or the error's kind
    (task_error: the task is broken; infra_error: retried) when no verdict was reached.

    With `patch_is_verdict` (SWE-bench: the graded thing is the diff) an empty or missing
    patch is `empty_patch` whatever the tests say, as in the official report; otherwise
    (Terminal-Bench, Harbor: the sandbox's state is graded) the grade decides. Tests that ran
    past their limit (`grade.report["timed_out"]`) are `test_timeout`, never a plain unresolved.
    """
    if grade.error is not None:
        return "task_error" if grade.task_failed else "infra_error"
    if patch_is_verdict and model_patch in ("", None):
        return "empty_patch"
    if grade.report.get("timed_out"):
        return "test_timeout"
    return "resolved" if grade.resolved else "unresolved"


def timeout_fields(grade: Grade, status: Status) -> dict[str, Any]:
    """`test_timeout_s` and a one-line `error` naming the limit, for a `test_timeout`."""
    if status != "test_timeout":
        return {"error": grade.error}
    limit = grade.report.get("test_timeout_s")
    limit_s = float(limit) if limit is not None else None
    said = f"{limit_s:g} s" if limit_s is not None else "their"
    return {
        "error": f"the tests ran past the {said} limit (test timeout)",
        "test_timeout_s": limit_s,
    }


def task_error(
    task_id: str,
    attempt: int,
    exc: TaskError,
    category: str = "",
    duration_s: float = 0.0,
    model_patch: str | None = None,
) -> AttemptResult:
    """The task's own files are broken (`TaskError`): reported as such, never retried."""
    return AttemptResult(
        task_id,
        attempt,
        "task_error",
        category=category,
        model_patch=model_patch,
        error=f"the task is broken: {exc}"[:2000],
        duration_s=duration_s,
    )


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
        try:
            task = self.suite.load(task_id)
        except TaskError as exc:
            return task_error(task_id, attempt, exc, model_patch=patch)
        base: dict[str, Any] = {
            "task_id": task_id,
            "attempt": attempt,
            "model_patch": patch,
            "category": category_of(task),
        }
        try:
            task.ensure_image(self.backend)
            sandbox = create_sandbox(task.sandbox_spec(), self.backend)
        except TaskError as exc:  # no image can be had (no spec, a Python we cannot build, ...)
            return task_error(task_id, attempt, exc, base["category"], model_patch=patch)
        except SandboxError as exc:
            return AttemptResult(**base, status="infra_error", error=str(exc))
        try:
            task.prepare(sandbox)
            if patch.strip():
                sandbox.write("/tmp/ale-prediction.patch", patch.encode())
                applied = sandbox.run(
                    f"cd {shlex.quote(task.workdir)} && git apply --whitespace=nowarn "
                    "/tmp/ale-prediction.patch",
                    timeout=120,
                )
                if not applied.ok:
                    store.log_path(task_id, attempt, "grade").write_text(applied.output)
                    error = f"patch does not apply: {applied.output[-300:]}"
                    reason, tier = classify_failure(applied.output, error)
                    return AttemptResult(
                        **base,
                        status="agent_error",
                        duration_s=time.monotonic() - t0,
                        error=error,
                        failure_reason=reason,
                        failure_tier=tier,
                    )
            grade = task.grade(sandbox)
        except TaskError as exc:
            return task_error(task_id, attempt, exc, base["category"], model_patch=patch)
        except SandboxError as exc:
            return AttemptResult(
                **base, status="infra_error", error=str(exc), duration_s=time.monotonic() - t0
            )
        finally:
            sandbox.close()
        store.log_path(task_id, attempt, "grade").write_text(grade.log)
        reason, tier = classify_failure(grade.log, grade.error)
        status = status_of(grade, patch, grades_a_patch(task))
        return AttemptResult(
            **base,
            status=status,
            reward=grade.reward,
            tests=grade.tests,
            duration_s=time.monotonic() - t0,
            failure_reason=reason,
            failure_tier=tier,
            **timeout_fields(grade, status),
        )


def env_kwargs(agent: Any) -> dict[str, Any]:
    """ChunkEnv arguments from an agent config: its `env_kwargs()` if it has one, else its
    action format, tools and limits (one spare turn for the loop's forced submit)."""
    if callable(getattr(agent, "env_kwargs", None)):
        return dict(agent.env_kwargs())
    out: dict[str, Any] = {"action_format": agent.action_format, "tools": tuple(agent.tools)}
    limits = getattr(agent, "limits", None)
    if getattr(agent, "policy", None):
        out["sandbox_policy"] = dict(agent.policy)
    if limits is not None:
        out["max_turns"] = int(limits.max_turns) + 1
        if limits.max_wall_s is not None:
            out["max_wall_s"] = float(limits.max_wall_s)
    return out


def save_audit(
    sandbox: Sandbox | None, store: RunStore, task_id: str, attempt: int
) -> dict[str, int]:
    """Copy the episode's egress audit log into the run folder; its allowed/refused counts
    ({} for a sandbox without egress, or one already gone)."""
    if sandbox is None:
        return {}
    try:
        events = sandbox.audit()
    except SandboxError:
        return {}
    if not events and sandbox.spec.network == "none":
        return {}
    store.write_audit(task_id, attempt, events)
    return audit_counts(events)


def transcript(record: Any) -> str:
    """The agent log: each chunk's response and observation, as a person reads it."""
    lines = [
        f"task {record.task_id}  policy {getattr(record, 'policy', '?')}  reward {record.reward}"
    ]
    for i, chunk in enumerate(record.chunks, 1):
        flags = [f for f in ("format_error", "infra_error") if getattr(chunk, f, False)]
        lines.append(f"\n=== chunk {i} {' '.join(flags)} ({getattr(chunk, 'wall_s', 0.0):.2f} s)")
        lines.append(str(getattr(chunk, "response", "") or getattr(chunk, "response_text", "")))
        lines.append("--- observation")
        lines.append(str(getattr(chunk, "observation", "")))
    return "\n".join(lines) + "\n"


def _tokens(record: Any) -> int:
    total = 0
    for chunk in record.chunks:
        usage = getattr(chunk, "usage", None) or {}
        ids = getattr(chunk, "response_ids", None)
        total += int(usage.get("completion_tokens", 0)) or (len(ids) if ids else 0)
    return total


#: Exception types (by name, anywhere in the cause chain) of a model endpoint that failed for
#: reasons the next try may not meet: the attempt is an infrastructure failure, retried.
TRANSIENT = {
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "TimeoutError",
    "APIConnectionError",
    "APITimeoutError",
    "RateLimitError",
    "InternalServerError",
}


def transient(exc: BaseException) -> bool:
    """Whether `exc` or what caused it is a transient endpoint failure (see `TRANSIENT`)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if any(t.__name__ in TRANSIENT for t in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class AgentRunner:
    """Runs `agent` with a policy in a `ChunkEnv` over `suite` (a `BenchSuite`): one env and one
    policy per worker thread (`policy_factory()` is called once per thread), the trajectory
    written to the run folder, the verdict classified:

    * infra_error: the sandbox or engine failed (start, a chunk, or the sandbox died while
      grading), or the model endpoint failed transiently (`TRANSIENT`): retried by the harness;
    * unresolved, never retried: the agent's own command ended its sandbox
      (`info["sandbox_lost"] == "agent"`, see `ChunkEnv`);
    * task_error, never retried: the task's files are broken (`TaskError` while loading or
      preparing it);
    * task_error / infra_error from the grade's `error_kind` when grading reached no verdict
      (e.g. a test patch that does not apply even at the base commit is the task's fault);
    * agent_error: the policy raised otherwise, or the episode ended without a grade;
    * else resolved / unresolved / empty_patch from the grade (`status_of`).
    """

    suite: TaskSuite
    agent: Any
    policy_factory: Callable[[], Any]
    backend: str = "auto"
    env_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._envs: list[Any] = []
        self._lock = threading.Lock()

    def _worker(self) -> tuple[Any, Any]:
        if not hasattr(self._local, "env"):
            from envs.core.env import ChunkEnv

            env = ChunkEnv(
                suite=self.suite,
                backend=self.backend,
                **{**env_kwargs(self.agent), **self.env_overrides},
            )
            self._local.env, self._local.policy = env, self.policy_factory()
            with self._lock:
                self._envs.append(env)
        return self._local.env, self._local.policy

    def close(self) -> None:
        """Close every worker's env (and its sandbox)."""
        with self._lock:
            envs, self._envs = self._envs, []
        for env in envs:
            env.close()

    def __call__(self, task_id: str, attempt: int, store: RunStore) -> AttemptResult:
        from agents.loop import run_episode

        env, policy = self._worker()
        trajectory = store.trajectory_path(task_id, attempt)
        trajectory.unlink(missing_ok=True)  # a retry or a resumed attempt starts a fresh record
        t0 = time.monotonic()
        category = ""
        try:
            record = run_episode(env, self.agent, policy, task_id, trajectory_path=trajectory)
            # after the episode: the task's image is known by then (no image lookup for it)
            category = category_of(self.suite.load(task_id))
        except Exception as exc:
            store.log_path(task_id, attempt, "agent").write_text(traceback.format_exc())
            with contextlib.suppress(Exception):
                category = category or category_of(self.suite.load(task_id))
            if isinstance(exc, TaskError):
                return task_error(task_id, attempt, exc, category, time.monotonic() - t0)
            if not isinstance(exc, SandboxError | EnvError) and not transient(exc):
                return AttemptResult(
                    task_id,
                    attempt,
                    "agent_error",
                    category=category,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    duration_s=time.monotonic() - t0,
                )
            return AttemptResult(
                task_id,
                attempt,
                "infra_error",
                category=category,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                duration_s=time.monotonic() - t0,
            )
        store.log_path(task_id, attempt, "agent").write_text(transcript(record))
        task = env.task
        grade: Grade | None = (
            getattr(task, "last_grade", None) if task is not None and task.id == task_id else None
        )
        base: dict[str, Any] = {
            "task_id": task_id,
            "attempt": attempt,
            "category": category,
            "turns": len(record.chunks),
            "tokens": int(record.timings.get("tokens", 0)) or _tokens(record),
            "duration_s": time.monotonic() - t0,
            "egress": save_audit(env.sandbox, store, task_id, attempt),
        }
        if record.chunks and record.chunks[-1].info.get("sandbox_lost") == "agent":
            return AttemptResult(  # the agent ended its own sandbox: a failure, never retried
                **base,
                status="unresolved",
                error=f"the agent's command ended its sandbox: {record.chunks[-1].observation}"[
                    :2000
                ],
            )
        if grade is None:
            infra = any(getattr(c, "infra_error", False) for c in record.chunks)
            return AttemptResult(
                **base,
                status="infra_error" if infra else "agent_error",
                error="a chunk failed for infrastructure reasons"
                if infra
                else "the episode ended without a grade",
            )
        store.log_path(task_id, attempt, "grade").write_text(grade.log)
        if grade.files:
            store.write_files(task_id, attempt, grade.files)
        patch = grade.report.get("model_patch")
        if grade.error is not None and env.sandbox is not None and not env.sandbox.alive():
            return AttemptResult(
                **base,
                status="infra_error",
                model_patch=patch,
                error=f"the sandbox died while grading: {grade.error}"[:2000],
            )
        reason, tier = classify_failure(grade.log, grade.error)
        status = status_of(grade, patch, grades_a_patch(task))
        return AttemptResult(
            **base,
            status=status,
            reward=grade.reward,
            model_patch=patch,
            tests=grade.tests,
            failure_reason=reason,
            failure_tier=tier,
            **timeout_fields(grade, status),
        )
