"""Terminal-Bench (`task.yaml`) and Harbor / Terminal Bench Pro (`task.toml`) task folders.

    suite = TerminalBenchSuite("terminal-bench/tasks", base_image_map={"*": "ale-base:bookworm"})
    suite = HarborSuite("tbench-pro/tasks")
    task = tb_mini().load("sokoban-solver")      # a `envs.core.task.Task`
    task.metadata["from_substitutions"]           # {"python:3.13-slim-bookworm": "ale-base:bookworm"}

Modules: `spec` / `harbor_spec` / `tb_spec` (the published task files, typed; unknown keys
warn), `compose` (docker-compose.yaml), `config` (one `TaskConfig` from either format),
`image` (builds, FROM map, stand-ins), `services` (compose sidecars), `artifacts`
(healthcheck, artifacts), `parsers` (Terminal-Bench's test-log parsers), `task`
(`TerminalBenchTask`, `HarborTask`: users, grading, oracle), `suite` (folder suites, `tb_mini`).
"""

from envs.suites.terminal_bench.config import TaskConfig, detect_format, load_task_config
from envs.suites.terminal_bench.parsers import PARSERS, parse_pytest
from envs.suites.terminal_bench.suite import (
    TB_MINI_TASKS,
    HarborSuite,
    TaskFolderSuite,
    TerminalBenchSuite,
    tb_mini,
)
from envs.suites.terminal_bench.task import FolderTask, HarborTask, TerminalBenchTask, read_reward
from envs.suites.terminal_bench.task_image import DEFAULT_BASE_MAP

__all__ = [
    "DEFAULT_BASE_MAP",
    "PARSERS",
    "TB_MINI_TASKS",
    "FolderTask",
    "HarborSuite",
    "HarborTask",
    "TaskConfig",
    "TaskFolderSuite",
    "TerminalBenchSuite",
    "TerminalBenchTask",
    "detect_format",
    "load_task_config",
    "parse_pytest",
    "read_reward",
    "tb_mini",
]
