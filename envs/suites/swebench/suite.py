"""`SWEBenchSuite`: SWE-bench instances from a file or dataset as a `TaskSuite`; `swe_mini()`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envs.core.errors import TaskError, unknown_id_message
from envs.suites.swebench.image_choice import OFFICIAL_NAMESPACE
from envs.suites.swebench.loader import load_instances
from envs.suites.swebench.official_eval import RepoSpecs, register_local_repos
from envs.suites.swebench.task import SWEBenchTask

#: The shipped swe-mini data (written by the swe_mini package).
SWE_MINI_DATA = Path(__file__).resolve().parents[1] / "swe_mini" / "data"


def data_folder(source: object) -> Path | None:
    """The folder a dataset file (or a folder of split files) lives in; None for a dataset
    name or rows in memory."""
    if not isinstance(source, str | Path):
        return None
    path = Path(source)
    if path.is_dir():
        return path
    return path.parent if path.is_file() else None


def load_specs(specs: RepoSpecs | str | Path | None) -> dict[str, dict[str, dict[str, Any]]]:
    """Repo specs `{repo: {version: {"test_cmd": ..., "install": ...}}}` from a dict or JSON file."""
    if specs is None:
        return {}
    where = "specs"
    if isinstance(specs, str | Path):
        where = str(specs)
        try:
            specs = json.loads(Path(specs).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise TaskError(f"no such specs file: {specs}") from exc
        except json.JSONDecodeError as exc:
            raise TaskError(f"{specs} line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(specs, Mapping):
        raise TaskError(f"{where}: expected {{repo: {{version: spec}}}}")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for repo, versions in specs.items():
        if not isinstance(versions, Mapping) or not all(
            isinstance(s, Mapping) for s in versions.values()
        ):
            raise TaskError(
                f"{where}: {repo!r} must map version -> spec (MAP_REPO_VERSION_TO_SPECS shape)"
            )
        for version, spec in versions.items():
            if "test_cmd" not in spec:
                raise TaskError(
                    f"{where}: the spec of {repo!r} version {version!r} has no 'test_cmd'"
                )
        out[str(repo)] = {str(v): dict(s) for v, s in versions.items()}
    return out


class SWEBenchSuite:
    """SWE-bench instances (official schema) from JSONL, JSON, parquet, rows in memory (a
    `datasets.Dataset`), or a Hugging Face dataset name (`datasets.load_dataset(name, split)`,
    from the cache when HF_DATASETS_OFFLINE / HF_HUB_OFFLINE is set).

    `specs` (dict or JSON file, `{repo: {version: spec}}`) gives `test_cmd`, `python` and
    what to install for instances without an `eval_script` column (and for environment
    builds); it is registered into swebench's maps. `repos_dir` holds `<repo>.bundle` git
    bundles for instances without an image. For a dataset file, `specs.json` and `repos/`
    beside it are used when `specs` / `repos_dir` are not given. `pull` allows pulling official
    images (published under `namespace`); `task_repo` is a swebench 5 task repo for swebench's
    own image builder. See `images` for the order images are looked for.
    """

    def __init__(
        self,
        path_or_dataset_name: str | Path | Iterable[Mapping[str, Any]] | Mapping[str, Any],
        split: str = "test",
        task_ids: list[str] | None = None,
        repos_dir: str | Path | None = None,
        specs: RepoSpecs | str | Path | None = None,
        *,
        name: str | None = None,
        include_hints: bool = False,
        test_timeout_s: float = 1800.0,
        memory_mb: int = 4096,
        pull: bool = False,
        namespace: str = OFFICIAL_NAMESPACE,
        task_repo: str | Path | None = None,
        grading_allow: Sequence[str] = (),
    ) -> None:
        instances = load_instances(path_or_dataset_name, split)
        beside = data_folder(path_or_dataset_name)
        if specs is None and beside is not None and (beside / "specs.json").is_file():
            specs = beside / "specs.json"
        if repos_dir is None and beside is not None and (beside / "repos").is_dir():
            repos_dir = beside / "repos"
        self.specs = load_specs(specs)
        register_local_repos(self.specs)
        known = [row["instance_id"] for row in instances]
        for tid in task_ids or []:
            if tid not in known:
                raise TaskError(unknown_id_message("SWE-bench instance", tid, known))
        wanted = set(task_ids) if task_ids else None
        self.instances = {
            r["instance_id"]: r for r in instances if wanted is None or r["instance_id"] in wanted
        }
        self.repos_dir = Path(repos_dir) if repos_dir is not None else None
        self.split = split
        self.include_hints = include_hints
        self.test_timeout_s = test_timeout_s
        self.memory_mb = memory_mb
        self.pull = pull
        self.namespace = namespace
        self.task_repo = Path(task_repo) if task_repo is not None else None
        self.grading_allow = tuple(grading_allow)  # e.g. egress.PACKAGE_INDEX: opt-in
        source = path_or_dataset_name
        self._name = name or (Path(source).stem if isinstance(source, str | Path) else "swebench")
        self._tasks: dict[str, SWEBenchTask] = {}

    @property
    def name(self) -> str:
        return self._name

    def configure(
        self,
        *,
        pull: bool | None = None,
        namespace: str | None = None,
        specs: RepoSpecs | str | Path | None = None,
        repos_dir: str | Path | None = None,
        task_repo: str | Path | None = None,
    ) -> None:
        """Change how images and specs are found (the CLI's `--pull`, `--namespace`, `--specs`,
        `--repos`, `--task-repo`); None keeps a setting. Tasks loaded before are forgotten."""
        if specs is not None:
            self.specs = load_specs(specs)
            register_local_repos(self.specs)
        if repos_dir is not None:
            self.repos_dir = Path(repos_dir)
        if task_repo is not None:
            self.task_repo = Path(task_repo)
        self.pull = self.pull if pull is None else pull
        self.namespace = namespace or self.namespace
        self._tasks = {}

    def task_ids(self) -> list[str]:
        return list(self.instances)

    def spec_for(self, instance: Mapping[str, Any]) -> dict[str, Any] | None:
        """The repo spec of an instance: ours (`specs`), else swebench's own map where the
        installed swebench still has one (`MAP_REPO_VERSION_TO_SPECS`, swebench < 5)."""
        spec = self.specs.get(instance["repo"], {}).get(instance["version"])
        if spec is None:
            from swebench.harness import constants

            official = getattr(constants, "MAP_REPO_VERSION_TO_SPECS", {})
            found = official.get(instance["repo"], {}).get(instance["version"])
            spec = dict(found) if found else None
        return spec

    def load(self, task_id: str) -> SWEBenchTask:
        """The task (the same object on every call); `TaskError` for an unknown id."""
        if task_id not in self.instances:
            raise TaskError(unknown_id_message("SWE-bench instance", task_id, self.task_ids()))
        if task_id not in self._tasks:
            instance = self.instances[task_id]
            spec = self.spec_for(instance)
            if spec is None and not instance.get("eval_script"):
                raise TaskError(
                    f"{task_id}: no spec for {instance['repo']} version {instance['version']!r} "
                    "and no eval_script column: give specs (--specs FILE, specs.json beside the "
                    "dataset, or specs={repo: {version: {'test_cmd': ...}}}), or use a dataset "
                    "with eval_script columns (swebench 5)"
                )
            self._tasks[task_id] = SWEBenchTask(
                instance,
                spec,
                self.repos_dir,
                include_hints=self.include_hints,
                test_timeout_s=self.test_timeout_s,
                memory_mb=self.memory_mb,
                pull=self.pull,
                namespace=self.namespace,
                task_repo=self.task_repo,
                grading_allow=self.grading_allow,
            )
        return self._tasks[task_id]

    def __len__(self) -> int:
        return len(self.instances)

    def __repr__(self) -> str:
        return f"SWEBenchSuite({self._name!r}, {len(self)} instances)"


def swe_mini(
    task_ids: list[str] | None = None, data_dir: str | Path | None = None, **kwargs: Any
) -> SWEBenchSuite:
    """The shipped swe-mini suite: small repos from git bundles, graded like SWE-bench."""
    data = Path(data_dir) if data_dir is not None else SWE_MINI_DATA
    jsonl = data / "swe-mini.jsonl"
    if not jsonl.is_file():
        raise TaskError(f"the swe-mini data is missing: {jsonl} (reinstall ale-gym)")
    return SWEBenchSuite(
        jsonl,
        task_ids=task_ids,
        name="swe-mini",
        **{"memory_mb": 2048, **kwargs},
    )
