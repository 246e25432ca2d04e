"""The shipped suites; importing this package registers them (`envs.core.suites`).

Format suites read published data: `swebench` (SWE-bench rows from HF datasets or JSONL /
parquet), `terminal-bench` and `harbor` (folders of tasks). Mini suites ship their data:
`swe-mini` and `tb-mini` register themselves in their own packages. Factories import their
suite lazily: registering costs nothing.
"""

from __future__ import annotations

import os

import envs.suites.swe_mini
import envs.suites.tb_mini  # noqa: F401  (both register themselves)
from envs.core.errors import EnvError
from envs.core.suites import register_suite
from envs.core.task import TaskSuite

DEFAULT_SWEBENCH = "princeton-nlp/SWE-bench_Verified"


def _swebench(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.swebench import SWEBenchSuite

    return SWEBenchSuite(
        dataset or os.environ.get("ALE_SWEBENCH_DATASET", DEFAULT_SWEBENCH),
        split=split,
        task_ids=task_ids,
    )


def _folder_path(kind: str, dataset: str | None, env_var: str) -> str:
    path = dataset or os.environ.get(env_var)
    if not path:
        raise EnvError(
            f"the {kind} suite needs a folder of tasks: pass dataset=PATH "
            f"(gymnasium.make(..., dataset=PATH)) or set ${env_var}"
        )
    return path


def _terminal_bench(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.terminal_bench import TerminalBenchSuite

    path = _folder_path("terminal-bench", dataset, "ALE_TERMINAL_BENCH_PATH")
    return TerminalBenchSuite(path, task_ids=task_ids)


def _harbor(dataset: str | None, split: str, task_ids: list[str] | None) -> TaskSuite:
    from envs.suites.terminal_bench import HarborSuite

    return HarborSuite(_folder_path("harbor", dataset, "ALE_HARBOR_PATH"), task_ids=task_ids)


register_suite("swebench", _swebench, env_id="ale/SWEBench-v0")
register_suite("terminal-bench", _terminal_bench, env_id="ale/TerminalBench-v0")
register_suite("harbor", _harbor, env_id="ale/TerminalBenchPro-v0")
