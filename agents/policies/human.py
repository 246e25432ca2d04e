"""`HumanPolicy`: you play the agent, typing each turn in the terminal.

The latest message is shown on stderr, then one turn is read from stdin: a single line, or,
for a multi-line turn, a line `<<<`, the lines of the turn, and a line `>>>`.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from agents.errors import PolicyError
from agents.policies.base import EpisodeContext, PolicyOutput, register_policy


class HumanPolicy:
    """Reads turns from `stdin` (default `sys.stdin`), echoes prompts to `stderr`."""

    name = "human"

    def __init__(self, stdin: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stderr = stderr or sys.stderr

    def start_episode(self, context: EpisodeContext) -> None:
        print(
            f"[human] task {context.task_id}; action format: {context.action_format}",
            file=self.stderr,
        )

    def _line(self) -> str:
        line = self.stdin.readline()
        if not line:
            raise PolicyError("human policy: stdin closed before a turn was typed")
        return line.rstrip("\n")

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        print(f"\n[{messages[-1].get('role')}]\n{messages[-1].get('content')}\n", file=self.stderr)
        print(
            "your turn (one line, or <<< ... >>> for several)> ",
            end="",
            file=self.stderr,
            flush=True,
        )
        first = self._line()
        if first.strip() != "<<<":
            return PolicyOutput(text=first)
        lines = []
        while (line := self._line()).strip() != ">>>":
            lines.append(line)
        return PolicyOutput(text="\n".join(lines))


register_policy("human", lambda arg, **options: HumanPolicy())
