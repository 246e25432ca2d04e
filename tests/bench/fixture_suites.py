"""Small real suites for harness tests: `answers` (N tasks: write a number into a file).

Each task has a reference solution as bash commands (`oracle_actions`), a category, and a
grader that reads the file in the sandbox; they run on `ale-base:bookworm` in about a second.
Load from the CLI with `--suite tests.bench.fixture_suites:answers`.

Slow on purpose, for tests that stop a run mid-episode: `ALE_TEST_ORACLE_SLEEP=S` makes the
oracle's first command sleep S seconds, `ALE_TEST_GRADE_SLEEP=S` the grading; with
`ALE_TEST_SLEEP_TASKS=id,id` only those tasks sleep (default: all).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from envs.core.errors import TaskError, unknown_id_message
from envs.core.task import Grade
from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxFileError, SandboxSpec


@dataclass
class NumberTask:
    """Write `answer` into /work/answer.txt; graded by reading it back."""

    id: str
    answer: str
    category: str

    @property
    def instruction(self) -> str:
        return f"Write the number {self.answer} into /work/answer.txt, then submit."

    @property
    def workdir(self) -> str:
        return "/work"

    @property
    def metadata(self) -> dict[str, Any]:
        return {"category": self.category}

    def sandbox_spec(self) -> SandboxSpec:
        return SandboxSpec(image=DEFAULT_IMAGE, workdir="/work", memory_mb=256, ttl_s=900)

    def ensure_image(self, backend: str) -> None:
        return None

    def prepare(self, sandbox: Sandbox) -> None:
        sandbox.run(
            "mkdir -p /work && printf 'put the answer in answer.txt\\n' > /work/README", timeout=30
        )

    def apply_oracle(self, sandbox: Sandbox) -> None:
        sandbox.write("/work/answer.txt", f"{self.answer}\n".encode())

    def oracle_actions(self) -> list[str]:
        delay = self._sleep("ALE_TEST_ORACLE_SLEEP")
        return [f"sleep {delay}; echo {self.answer} > /work/answer.txt", "cat /work/answer.txt"]

    def _sleep(self, variable: str) -> str:
        only = [t for t in os.environ.get("ALE_TEST_SLEEP_TASKS", "").split(",") if t]
        return os.environ.get(variable, "0") if not only or self.id in only else "0"

    def grade(self, sandbox: Sandbox) -> Grade:
        delay = self._sleep("ALE_TEST_GRADE_SLEEP")
        if float(delay) > 0:
            sandbox.run(f"sleep {delay}", timeout=float(delay) + 60)
        try:
            got = sandbox.read("/work/answer.txt").decode().strip()
        except SandboxFileError:
            got = ""
        ok = got == self.answer
        log = f"answer.txt holds {got!r}, expected {self.answer!r}\n"
        return Grade(
            reward=float(ok), resolved=ok, tests={"answer": "PASSED" if ok else "FAILED"}, log=log
        )


class NumberSuite:
    name = "answers"

    def __init__(self, n: int = 12, task_ids: list[str] | None = None) -> None:
        every = {
            f"number-{i:02d}": NumberTask(f"number-{i:02d}", str(7 * i + 3), ("even", "odd")[i % 2])
            for i in range(n)
        }
        for tid in task_ids or []:
            if tid not in every:
                raise TaskError(unknown_id_message("task", tid, sorted(every)))
        self.tasks = {t: every[t] for t in (task_ids or sorted(every))}

    def task_ids(self) -> list[str]:
        return sorted(self.tasks)

    def load(self, task_id: str) -> NumberTask:
        if task_id not in self.tasks:
            raise TaskError(unknown_id_message("task", task_id, self.task_ids()))
        return self.tasks[task_id]


def answers(task_ids: list[str] | None = None) -> NumberSuite:
    """12 tasks (`number-00` .. `number-11`), categories even/odd."""
    return NumberSuite(12, task_ids)


def slow_loading(task_ids: list[str] | None = None) -> NumberSuite:
    """`answers`, after touching `$ALE_TEST_LOADING_MARK` and waiting up to 10 minutes: a suite
    still loading when a test signals the command."""
    import time
    from pathlib import Path

    Path(os.environ["ALE_TEST_LOADING_MARK"]).touch()
    time.sleep(600)
    return answers(task_ids)
