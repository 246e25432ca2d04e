"""Suite names -> `TaskSuite` objects, so env ids and CLIs can name suites as strings.

Suite packages are imported lazily: `import envs` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from envs.core.errors import EnvError, unknown_id_message
from envs.core.task import TaskSuite

DEFAULT_SWEBENCH = "princeton-nlp/SWE-bench_Verified"


def _swe_mini(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.swebench import swe_mini

    return swe_mini(task_ids=task_ids)


def _swebench(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.swebench import SWEBenchSuite

    return SWEBenchSuite(
        dataset or os.environ.get("ALE_SWEBENCH_DATASET", DEFAULT_SWEBENCH),
        split=split,
        task_ids=task_ids,
    )


def _tb_mini(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.terminal_bench import tb_mini

    return tb_mini(task_ids=task_ids)


def _folder(kind: str, env_var: str) -> Callable[[str | None, str, list[str] | None], TaskSuite]:
    def make(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
        import envs.suites.terminal_bench as tb

        path = dataset or os.environ.get(env_var)
        if not path:
            raise EnvError(
                f"the {kind} suite needs a folder of tasks: pass dataset=PATH "
                f"(gymnasium.make(..., dataset=PATH)) or set ${env_var}"
            )
        cls = tb.TerminalBenchSuite if kind == "terminal-bench" else tb.HarborSuite
        return cls(path, task_ids=task_ids)

    return make


SUITES: dict[str, Callable[[str | None, str, list[str] | None], TaskSuite]] = {
    "swe-mini": _swe_mini,
    "swebench": _swebench,
    "tb-mini": _tb_mini,
    "terminal-bench": _folder("terminal-bench", "ALE_TERMINAL_BENCH_PATH"),
    "harbor": _folder("harbor", "ALE_HARBOR_PATH"),
}


def resolve_suite(
    suite: TaskSuite | str,
    dataset: str | None = None,
    split: str = "test",
    task_ids: list[str] | None = None,
) -> TaskSuite:
    """`suite` itself if it is a `TaskSuite`, else the registered suite of that name."""
    if not isinstance(suite, str):
        return suite
    if suite not in SUITES:
        raise EnvError(unknown_id_message("suite", suite, sorted(SUITES)))
    return SUITES[suite](dataset, split, task_ids)
