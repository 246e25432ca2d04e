"""tb-mini: 18 terminal tasks in the Terminal-Bench and Harbor folder formats.

Importing this package registers the suite as `tb-mini` (env id `ale/TBMini-v0`).
"""

from __future__ import annotations

from envs.core.suites import register_suite
from envs.core.task import TaskSuite


def _tb_mini(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.terminal_bench import tb_mini

    return tb_mini(task_ids=task_ids)


register_suite("tb-mini", _tb_mini, env_id="ale/TBMini-v0")
