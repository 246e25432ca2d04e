"""`ToyTeacher`: a scripted teacher for `ale/ToyShell-v0` with a tunable quality.

It follows the task's expert plan (`cd repo`, `test`, `edit file`, `test`); before each planned
step it slips with probability `1 - quality * skill(task)`: half of the slips waste a turn
(`ls`, `cat file`), half edit a file that is not the buggy one (which breaks it, and usually
costs the episode). `skill` is lower for some files (`core`, `io`), so the teacher's pass rate
differs between tasks: the difficulty signal `ale sft`'s stage 2 revisits. Its trajectories
are text only (like the oracle's), tokenized by `ale data build --tokenizer toy`.
"""

from __future__ import annotations

import random
from typing import Any

from agents.policies.base import EpisodeContext, PolicyOutput
from envs.toy import expert_actions
from envs.toy.shell import FILES

#: How well the teacher knows each buggy file (multiplies its quality).
SKILL: dict[str, float] = {"main": 1.0, "util": 0.9, "core": 0.7, "io": 0.5}


class ToyTeacher:
    """A `Policy` that plays the expert plan with slips; see the module doc."""

    def __init__(self, quality: float, rng: random.Random) -> None:
        if not 0.0 <= quality <= 1.0:
            raise ValueError(f"quality must be in [0, 1], got {quality}")
        self.quality, self.rng = quality, rng
        self.name = f"toy-teacher@{quality:g}"
        self._plan: list[str] = []
        self._file = "main"

    def start_episode(self, context: EpisodeContext) -> None:
        self._plan = list(expert_actions(context.task_id))
        self._file = context.task_id.partition("-")[2]

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        p_ok = self.quality * SKILL.get(self._file, 1.0)
        if not self._plan:
            return PolicyOutput(text="test")
        if self.rng.random() < p_ok:
            return PolicyOutput(text=self._plan.pop(0))
        if self.rng.random() < 0.5:
            return PolicyOutput(text=self.rng.choice(["ls", f"cat {self.rng.choice(FILES)}"]))
        wrong = [f for f in FILES if f != self._file]
        return PolicyOutput(text=f"edit {self.rng.choice(wrong)}")
