"""Suite and task wrappers the harness runs through: run labels and the workdir's diff.

`BenchSuite(suite, labels)` hands out `BenchTask`s: the suite's task with

* the run's labels on its sandbox (`ale.bench.run=<run id>`), so a run's sandboxes are found
  and removed by label even after the harness was SIGKILLed;
* the final `Grade` kept (`last_grade`, with its log, which the env's info does not carry);
* a `model_patch` for tasks whose grader does not produce one (Terminal-Bench, Harbor): the
  binary git diff of the workdir against its state after `prepare`, tracked in a git dir
  outside it (/tmp/.ale-bench/base.git; files over 1 MiB are not tracked);
* the run's `StopSwitch` checked before each phase (image, sandbox, prepare, grade): once the
  run is stopping, a task starts nothing new (`Cancelled`, see `bench.interrupt`).
"""

from __future__ import annotations

import shlex
import time
from dataclasses import replace
from typing import Any

from bench.interrupt import StopSwitch
from envs.core.task import Grade, Task, TaskSuite
from envs.rock import Sandbox, SandboxError, SandboxFileError, SandboxSpec
from envs.rock.api import LABEL_RUN

RUN_LABEL = LABEL_RUN  # the run's label on its sandboxes (`ale sandbox gc --run`)
#: The agent's own shell: it is started anyway, and a second one would cost a shell start per
#: episode. Commands below bypass aliases and functions (`\command env`) and set every git
#: variable they rely on, so what the agent did to that shell cannot change the diff.
SESSION = "default"
_GIT_DIR = "/tmp/.ale-bench/base.git"
_DIFF = "/tmp/.ale-bench/model.patch"
_GIT = (
    f"\\command env -u GIT_INDEX_FILE -u GIT_OBJECT_DIRECTORY GIT_DIR={_GIT_DIR} GIT_WORK_TREE={{wd}} "
    "GIT_CONFIG_NOSYSTEM=1 HOME=/tmp/.ale-bench git -c user.name=ale -c user.email=ale@localhost "
    "-c core.autocrlf=false -c core.fileMode=true"
)


class BenchTask:
    """A suite task as the harness runs it (see the module docstring); the rest delegates."""

    def __init__(
        self, task: Task, labels: dict[str, str], track_diff: bool, stop: StopSwitch | None = None
    ) -> None:
        self.task = task
        self.labels = labels
        self.track_diff = track_diff
        self.stop = stop or StopSwitch()
        self.last_grade: Grade | None = None
        self.bench_s = 0.0  # seconds spent on the workdir snapshot and diff (harness overhead)
        self._baseline = False

    def __getattr__(self, name: str) -> Any:  # oracle_actions and suite-specific extras
        return getattr(self.task, name)

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def instruction(self) -> str:
        return self.task.instruction

    @property
    def workdir(self) -> str:
        return self.task.workdir

    @property
    def metadata(self) -> dict[str, Any]:
        return self.task.metadata

    def sandbox_spec(self) -> SandboxSpec:
        self.stop.check()  # read right before a sandbox is created: none once the run stops
        spec = self.task.sandbox_spec()
        return replace(spec, labels={**spec.labels, **self.labels})

    def ensure_image(self, backend: str) -> None:
        self.stop.check()
        self.task.ensure_image(backend)

    def prepare(self, sandbox: Sandbox) -> None:
        self.stop.check()
        self.task.prepare(sandbox)
        self.last_grade = None
        if self.track_diff:
            git = _GIT.format(wd=shlex.quote(self.workdir))
            script = (
                f"(mkdir -p {_GIT_DIR} && {git} init -q && cd {shlex.quote(self.workdir)} && "
                f"{{ find . -type f -size +1M ! -path './.git/*' | sed 's|^\\./|/|' > {_GIT_DIR}/info/exclude; "
                f"}} && {git} add -A && {git} commit -q --allow-empty --no-verify -m base) >/dev/null 2>&1"
            )
            t0 = time.perf_counter()
            self._baseline = sandbox.run(script, timeout=300, session=SESSION).ok
            self.bench_s += time.perf_counter() - t0

    def apply_oracle(self, sandbox: Sandbox) -> None:
        self.task.apply_oracle(sandbox)

    def workdir_diff(self, sandbox: Sandbox) -> str | None:
        """The workdir's changes since `prepare` as a binary git diff; None if untracked."""
        if not self._baseline:
            return None
        git = _GIT.format(wd=shlex.quote(self.workdir))
        result = sandbox.run(
            f"(cd {shlex.quote(self.workdir)} && {git} add -A && "
            f"{git} diff --cached --binary --no-color HEAD > {_DIFF}) 2>/dev/null && cat {_DIFF}",
            timeout=300,
            session=SESSION,
        )
        if not result.ok:
            return None
        if not result.truncated:  # one round trip for the usual small diff
            return result.output
        try:
            return sandbox.read(_DIFF).decode("utf-8", errors="replace")
        except SandboxFileError:
            return None

    def grade(self, sandbox: Sandbox) -> Grade:
        self.stop.check()
        patch = None
        if self.track_diff:
            t0 = time.perf_counter()
            try:
                patch = self.workdir_diff(sandbox)
            except SandboxError:
                patch = None
            self.bench_s += time.perf_counter() - t0
        grade = self.task.grade(sandbox)
        if "model_patch" not in grade.report and patch is not None:
            grade = replace(grade, report={**grade.report, "model_patch": patch})
        self.last_grade = grade
        return grade


class BenchSuite:
    """`suite` whose tasks carry `labels`, a tracked workdir diff and the run's `stop` switch
    (see `BenchTask`)."""

    def __init__(
        self, suite: TaskSuite, labels: dict[str, str], stop: StopSwitch | None = None
    ) -> None:
        self.suite = suite
        self.labels = dict(labels)
        self.stop = stop or StopSwitch()

    @property
    def name(self) -> str:
        return self.suite.name

    def task_ids(self) -> list[str]:
        return self.suite.task_ids()

    def load(self, task_id: str) -> BenchTask:
        """A fresh wrapper per call (one per episode), around the suite's task."""
        task = self.suite.load(task_id)
        return BenchTask(task, self.labels, track_diff=not grades_a_patch(task), stop=self.stop)


def grades_a_patch(task: Task) -> bool:
    """Whether the task's grader computes the agent's diff itself (SWE-bench instances)."""
    return hasattr(task.task if isinstance(task, BenchTask) else task, "base_commit")
