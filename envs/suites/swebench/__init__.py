"""The SWE-bench suite: official-schema instances, sanitized /testbed, official grading.

    suite = SWEBenchSuite("swe-bench-verified.jsonl", specs="specs.json", repos_dir="repos/")
    task = suite.load(suite.task_ids()[0])   # a `envs.core.task.Task`
    swe_mini()                               # the shipped small suite

Modules: `loader` (files and datasets), `images` (local, pulled or built image, in that order),
`envbuild` (environment builds), `testbed` (/testbed sanitized once per image, the agent's exact
diff), `task` (`SWEBenchTask`), `official_eval` and `grader` (the official swebench functions),
`report` (the aggregate report.json).
"""

from envs.suites.swebench.image_choice import ImageChoice, official_image_names, plan_image
from envs.suites.swebench.loader import load_instances
from envs.suites.swebench.official_eval import register_local_repos
from envs.suites.swebench.report import prediction, write_run_report
from envs.suites.swebench.suite import SWEBenchSuite, load_specs, swe_mini
from envs.suites.swebench.task import SWEBenchTask

__all__ = [
    "ImageChoice",
    "SWEBenchSuite",
    "SWEBenchTask",
    "load_instances",
    "load_specs",
    "official_image_names",
    "prediction",
    "register_local_repos",
    "plan_image",
    "swe_mini",
    "write_run_report",
]
