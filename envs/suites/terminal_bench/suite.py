"""Folders of Terminal-Bench / Harbor tasks as `TaskSuite`s; `tb_mini()`, the shipped suite.

`path` is either one task folder or a folder of task folders (also `path/tasks/`, the layout of
the Terminal-Bench repository). Task ids are folder names. Folders are listed eagerly and
parsed lazily: `load(task_id)` raises `TaskError` for a broken task.yaml / task.toml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envs.core.errors import TaskError, unknown_id_message
from envs.rock import DEFAULT_IMAGE
from envs.rock.standins import STANDIN_MAP, STANDINS
from envs.suites.terminal_bench.config import (
    FORMAT_FILES,
    TaskFormat,
    detect_format,
    load_task_config,
)
from envs.suites.terminal_bench.task import HarborTask, TerminalBenchTask

TB_MINI_TASKS = Path(__file__).resolve().parents[1] / "tb_mini" / "tasks"
TASK_CLASSES: dict[str, type[TerminalBenchTask] | type[HarborTask]] = {
    "terminal-bench": TerminalBenchTask,
    "harbor": HarborTask,
}


def _is_task(folder: Path, formats: tuple[TaskFormat, ...]) -> bool:
    return folder.is_dir() and any((folder / FORMAT_FILES[f]).is_file() for f in formats)


class TaskFolderSuite:
    """Task folders of the formats in `formats` (both by default).

    `base_image_map` rewrites Dockerfile `FROM` images to local ones: exact names, globs
    (`python:3.13*`) or `*` for any, merged over the default map of stand-ins (see `task_image.py`;
    an empty value removes a key). The substitutions are in each task's
    `metadata["from_substitutions"]`. Unknown keys in task files are warnings
    (`metadata["warnings"]`) unless `strict=True`. `memory_mb` / `cpus` override the tasks';
    `build_network=False` builds images offline; `ca_bundle` is trusted by the builds
    (default: `$ALE_EXTRA_CA_BUNDLE`, `$PIP_CERT`, `$SSL_CERT_FILE`).
    """

    formats: tuple[TaskFormat, ...] = ("terminal-bench", "harbor")

    def __init__(
        self,
        path: str | Path,
        task_ids: list[str] | None = None,
        base_image_map: dict[str, str] | None = None,
        *,
        name: str | None = None,
        strict: bool = False,
        image_prefix: str = "ale-tb",
        memory_mb: int | None = None,
        cpus: float | None = None,
        order: list[str] | None = None,
        build_network: bool = True,
        ca_bundle: str | Path | None = None,
    ) -> None:
        root = Path(path).expanduser().resolve()
        self.root = root
        self.base_image_map = dict(base_image_map or {})
        self.strict = strict
        self.image_prefix = image_prefix
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.build_network = build_network
        self.ca_bundle = Path(ca_bundle) if ca_bundle else None
        self._name = name or root.name
        folders = self._discover(root)
        by_id = {f.name: f for f in folders}
        ids = [i for i in (order or []) if i in by_id] + sorted(set(by_id) - set(order or []))
        for tid in task_ids or []:
            if tid not in by_id:
                raise TaskError(unknown_id_message(f"{self._kind()} task", tid, ids))
        wanted = set(task_ids) if task_ids else None
        self.folders = {i: by_id[i] for i in ids if wanted is None or i in wanted}
        self._tasks: dict[str, TerminalBenchTask | HarborTask] = {}

    def configure(
        self,
        *,
        base_image_map: dict[str, str] | None = None,
        strict: bool | None = None,
        build_network: bool | None = None,
        ca_bundle: str | Path | None = None,
    ) -> None:
        """Change how tasks load (the CLI's --from, --strict, ...): `base_image_map` is merged
        over the suite's own; tasks loaded before are dropped."""
        if base_image_map:
            self.base_image_map = {**self.base_image_map, **base_image_map}
        if strict is not None:
            self.strict = strict
        if build_network is not None:
            self.build_network = build_network
        if ca_bundle is not None:
            self.ca_bundle = Path(ca_bundle)
        self._tasks.clear()

    def warnings(self) -> dict[str, list[str]]:
        """{task id: unknown-key warnings} of every task that parses (others fail at load)."""
        out = {}
        for task_id in self.task_ids():
            try:
                found = list(self.load(task_id).config.warnings)
            except TaskError:
                continue
            if found:
                out[task_id] = found
        return out

    def _kind(self) -> str:
        return " / ".join(self.formats)

    def _discover(self, root: Path) -> list[Path]:
        if not root.is_dir():
            raise TaskError(f"{root}: no such folder of {self._kind()} tasks")
        if _is_task(root, self.formats):
            return [root]
        if any((root / FORMAT_FILES[f]).is_file() for f in FORMAT_FILES):
            raise TaskError(
                f"{root} is a {detect_format(root)} task; load it with "
                f"{'HarborSuite' if detect_format(root) == 'harbor' else 'TerminalBenchSuite'}"
            )
        for base in (root, root / "tasks"):
            found = (
                [f for f in sorted(base.iterdir()) if _is_task(f, self.formats)]
                if base.is_dir()
                else []
            )
            if found:
                return found
        wanted = " or ".join(FORMAT_FILES[f] for f in self.formats)
        raise TaskError(
            f"{root}: no task folders (subfolders with {wanted}) here or in {root / 'tasks'}"
        )

    @property
    def name(self) -> str:
        return self._name

    def task_ids(self) -> list[str]:
        return list(self.folders)

    def load(self, task_id: str) -> TerminalBenchTask | HarborTask:
        """The task (the same object on every call); `TaskError` for an unknown id or a broken folder."""
        if task_id not in self.folders:
            raise TaskError(unknown_id_message(f"{self._kind()} task", task_id, self.task_ids()))
        if task_id not in self._tasks:
            config = load_task_config(self.folders[task_id], strict=self.strict)
            cls = TASK_CLASSES[config.format]
            self._tasks[task_id] = cls(
                config,
                self.base_image_map,
                image_prefix=self.image_prefix,
                memory_mb=self.memory_mb,
                cpus=self.cpus,
                build_network=self.build_network,
                ca_bundle=self.ca_bundle,
            )
        return self._tasks[task_id]

    def __len__(self) -> int:
        return len(self.folders)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, {len(self)} tasks)"


class TerminalBenchSuite(TaskFolderSuite):
    """Terminal-Bench task folders (`task.yaml`, `Dockerfile`, `run-tests.sh`, `tests/`, `solution.sh`)."""

    formats = ("terminal-bench",)


class HarborSuite(TaskFolderSuite):
    """Harbor / Terminal Bench Pro task folders (`task.toml`, `instruction.md`, `environment/`, `tests/test.sh`)."""

    formats = ("harbor",)


#: tb-mini's tasks are written to run on the ALE base image, which its FROM map says (the
#: stand-ins' globs turned off), except `python:3.11-slim`: its offline stand-in, so that a
#: Dockerfile's `pip install` works as on the real base.
TB_MINI_BASE_MAP = {
    **{pattern: "" for pattern in STANDIN_MAP},
    "*": DEFAULT_IMAGE,
    "python:3.11-slim": STANDINS["python:3.11-slim"].tag,
}


def tb_mini(task_ids: list[str] | None = None, **kwargs: Any) -> TaskFolderSuite:
    """The shipped tb-mini suite, in index.json order (`base_image_map` over TB_MINI_BASE_MAP)."""
    kwargs["base_image_map"] = {**TB_MINI_BASE_MAP, **(kwargs.get("base_image_map") or {})}
    index = TB_MINI_TASKS / "index.json"
    if not index.is_file():
        raise TaskError(f"the tb-mini tasks are missing: {index} (reinstall ale-gym)")
    order = [str(entry["id"]) for entry in json.loads(index.read_text(encoding="utf-8"))]
    return TaskFolderSuite(TB_MINI_TASKS, task_ids=task_ids, name="tb-mini", order=order, **kwargs)
