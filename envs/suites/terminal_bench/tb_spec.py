"""Terminal-Bench's `task.yaml`, every key of the published format (terminal-bench 0.2).

Field names and defaults are Terminal-Bench's (`terminal_bench.handlers.trial_handler.Task`),
plus the pre-0.2 spellings still found in published tasks (`descriptions`, `test_scripts`,
`env_name`). docs/environments.md has what ALE-Gym does with each key.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from envs.core.config import OpenModel


class Description(OpenModel):
    key: str = "base"
    description: str


class TerminalBenchTaskFile(OpenModel):
    """One task.yaml."""

    instruction: str | None = None
    descriptions: list[Description] | None = None  # before 0.2: [{key: base, description}]
    author_name: str = "unknown"
    author_email: str = "unknown"
    difficulty: str = "unknown"
    category: str = "software_engineering"
    tags: list[str] = Field(default_factory=list)
    parser_name: str = "pytest"
    max_agent_timeout_sec: float = 360.0
    max_test_timeout_sec: float = 60.0
    run_tests_in_same_shell: bool = False
    disable_asciinema: bool = False
    estimated_duration_sec: float | None = None
    expert_time_estimate_min: float | None = None
    junior_time_estimate_min: float | None = None
    test_scripts: list[str] | None = None  # before 0.2: extra scripts copied with the tests
    env_name: str | None = None  # before 0.2: a shared environment folder

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("max_agent_timeout_sec", "max_test_timeout_sec")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    def statement(self) -> str | None:
        """`instruction`, else the `base` entry of the older `descriptions` list."""
        if self.instruction is not None:
            return self.instruction
        if self.descriptions:
            base = [d for d in self.descriptions if d.key == "base"] or self.descriptions
            return base[0].description
        return None
