"""A tiny real task suite for env-mechanics tests: write the answer into a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.core.errors import TaskError, unknown_id_message
from envs.core.task import Grade
from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxFileError, SandboxSpec

SECRET_TEST = "ALE-HIDDEN-TEST-7f3a"


@dataclass
class AnswerTask:
    """Create /work/answer.txt holding `answer`. The grader's expectation stays on the host."""

    id: str
    answer: str

    @property
    def instruction(self) -> str:
        return f"Write the answer to {self.id} into /work/answer.txt."

    @property
    def workdir(self) -> str:
        return "/work"

    @property
    def metadata(self) -> dict[str, Any]:
        return {"kind": "answer"}

    def sandbox_spec(self) -> SandboxSpec:
        return SandboxSpec(image=DEFAULT_IMAGE, workdir="/work", output_limit=8000)

    def ensure_image(self, backend: str) -> None:
        return None

    def prepare(self, sandbox: Sandbox) -> None:
        sandbox.write("/work/README.md", b"Put the answer in answer.txt\n")

    def apply_oracle(self, sandbox: Sandbox) -> None:
        sandbox.write("/work/answer.txt", f"{self.answer}\n".encode())

    def grade(self, sandbox: Sandbox) -> Grade:
        sandbox.write("/tmp/grader.txt", SECRET_TEST.encode())  # hidden material arrives only now
        try:
            got = sandbox.read("/work/answer.txt").decode().strip()
        except SandboxFileError:
            got = ""
        ok = got == self.answer
        return Grade(reward=float(ok), resolved=ok, tests={"answer": "PASSED" if ok else "FAILED"})


class AnswerSuite:
    name = "answers"

    def __init__(self) -> None:
        self.tasks = {
            "six-by-seven": AnswerTask("six-by-seven", "42"),
            "two-cubed": AnswerTask("two-cubed", "8"),
        }

    def task_ids(self) -> list[str]:
        return sorted(self.tasks)

    def load(self, task_id: str) -> AnswerTask:
        if task_id not in self.tasks:
            raise TaskError(unknown_id_message("task", task_id, self.task_ids()))
        return self.tasks[task_id]
