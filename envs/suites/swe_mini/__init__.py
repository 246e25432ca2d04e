"""swe-mini: SWE-bench-format instances over small Python repositories written for ALE-Gym.

The shipped data lives in `data/` (`swe-mini.jsonl`, `specs.json`, `repos/<name>.bundle`); the
`build` subpackage is its source of truth and regenerates it: `python -m envs.suites.swe_mini.build`.
`envs.suites.swebench.swe_mini()` loads it as a suite; importing this package registers it as
`swe-mini` (env id `ale/SWEMini-v0`).
"""

from __future__ import annotations

from envs.core.suites import register_suite
from envs.core.task import TaskSuite


def _swe_mini(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.swebench import swe_mini

    return swe_mini(task_ids=task_ids)


register_suite("swe-mini", _swe_mini, env_id="ale/SWEMini-v0")
