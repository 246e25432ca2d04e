"""What a task suite gives the chunk-level env: `Task` and `TaskSuite` protocols, `Grade`.

A suite (SWE-bench, Terminal-Bench, Harbor, toy) turns its files into `Task`s. The env owns the
sandbox and the agent's turns; the task only prepares the sandbox, grades it, and knows its
reference solution. Hidden material (tests, gold patches) stays on the host until `grade`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from envs.rock import Sandbox, SandboxSpec


@dataclass(frozen=True)
class Grade:
    """The verdict on a finished episode.

    `reward` is what the env returns (SWE-bench: 1.0 iff every FAIL_TO_PASS and PASS_TO_PASS
    test passes; Terminal-Bench: 1.0 iff the tests pass; Harbor: the reward file's value).
    `tests` maps test name -> status ("PASSED", "FAILED", ...). `report` holds suite-specific
    fields (SWE-bench's report.json entry); when the tests ran past their limit it has
    `timed_out: True` and `test_timeout_s` (the limit, in seconds): reward 0, a verdict, not an
    error. `files` are files the task copied out of the sandbox after the agent phase
    (Harbor's `artifacts`): {relative path: bytes}, kept in the run folder by the harness.

    `error` is set when no verdict could be reached; then `reward` is 0.0 and `error_kind`
    says whose fault it is: "infra" (the sandbox or engine failed: the episode is retried and
    the RL side drops it) or "task" (the task itself is broken, e.g. its test patch does not
    apply to the base commit: never retried). Failures the agent could have caused are not
    errors: they are ordinary verdicts with reward 0 (a `problem` note in `report`).
    """

    reward: float
    resolved: bool
    tests: dict[str, str] = field(default_factory=dict)
    log: str = ""
    error: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    error_kind: Literal["infra", "task"] = "infra"

    @property
    def infra_failed(self) -> bool:
        """Grading failed for infrastructure reasons (retry / drop the episode)."""
        return self.error is not None and self.error_kind == "infra"

    @property
    def task_failed(self) -> bool:
        """The task is broken: no attempt at it can be graded."""
        return self.error is not None and self.error_kind == "task"


@runtime_checkable
class Task(Protocol):
    """One task instance, ready to run in a sandbox."""

    @property
    def id(self) -> str: ...

    @property
    def instruction(self) -> str:
        """The task statement shown to the agent (problem statement, instruction.md, ...)."""
        ...

    @property
    def workdir(self) -> str:
        """Where the agent starts (`/testbed` for SWE-bench, `/app` for Terminal-Bench)."""
        ...

    @property
    def metadata(self) -> dict[str, Any]:
        """Suite-specific facts (repo, category, difficulty, FROM substitutions, ...)."""
        ...

    def sandbox_spec(self) -> SandboxSpec:
        """The spec to start this task's sandbox from (image built by `ensure_image`)."""
        ...

    def ensure_image(self, backend: str) -> None:
        """Build or find the image this task runs in; cached, idempotent."""
        ...

    def prepare(self, sandbox: Sandbox) -> None:
        """Put the task's starting state into a fresh sandbox (repo at base commit, files)."""
        ...

    def apply_oracle(self, sandbox: Sandbox) -> None:
        """Apply the reference solution (gold patch, solution.sh) in the sandbox."""
        ...

    def grade(self, sandbox: Sandbox) -> Grade:
        """Grade the sandbox's current state, in the same sandbox, after the agent is done."""
        ...


@runtime_checkable
class OracleTask(Protocol):
    """What a task offers when its reference solution can be run as the agent would run it
    (the `oracle` policy and RL's expert trajectories use it)."""

    def oracle_actions(self) -> list[str]:
        """The reference solution as bash commands, in order."""
        ...


@runtime_checkable
class TaskSuite(Protocol):
    """A collection of tasks addressed by id."""

    @property
    def name(self) -> str: ...

    def task_ids(self) -> list[str]: ...

    def load(self, task_id: str) -> Task:
        """The task; raises `envs.core.errors.TaskError` naming close ids if it is unknown."""
        ...
