"""Task folder parsing: Terminal-Bench `task.yaml` and Harbor `task.toml` into one `TaskConfig`.

Pure functions, no sandbox: a broken folder raises `TaskError` naming the file, the key and
the fix. Two layouts are recognised (paths relative to the task folder):

    Terminal-Bench                      Harbor (Terminal-Bench 2, Terminal Bench Pro)
    task.yaml                           task.toml
    Dockerfile (build context: .)       instruction.md
    docker-compose.yaml (optional)      environment/Dockerfile or [environment] docker_image
    run-tests.sh                        environment/docker-compose.yaml (optional)
    tests/                              tests/test.sh (writes /logs/verifier/reward.{txt,json})
    solution.sh or solution.yaml        solution/solve.sh

Each format is a tree of `OpenModel`s (`tb_spec`, `harbor_spec`) read through the project's one
config loader (`envs.core.config`: `validate`, `unknown_keys`). Forward compatible: a key this
version does not know is a warning naming its path and the nearest known key
(`TaskConfig.warnings`, shown in the run's log and report); `strict=True` makes it an error. A key we know but cannot
honour (Windows, GPUs, MCP servers, multi-step tasks, ...) is a `TaskError` with the reason.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from envs.core.config import OpenModel, unknown_keys, validate
from envs.core.errors import TaskError
from envs.suites.terminal_bench import harbor_spec
from envs.suites.terminal_bench.compose import ComposeFile, load_compose
from envs.suites.terminal_bench.harbor_spec import Artifact, CollectHook, Healthcheck
from envs.suites.terminal_bench.parsers import PARSERS
from envs.suites.terminal_bench.tb_spec import TerminalBenchTaskFile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TaskFormat = Literal["terminal-bench", "harbor"]
FORMAT_FILES: dict[str, str] = {"terminal-bench": "task.yaml", "harbor": "task.toml"}
COMPOSE_FILES = ("docker-compose.yaml", "docker-compose.yml")
_WORKDIR = re.compile(r"^\s*WORKDIR\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_FROM_LINE = re.compile(r"^\s*FROM\s", re.IGNORECASE | re.MULTILINE)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_TEMPLATE = re.compile(r"\$\{([^}:]+)(?::-(.*))?\}")


@dataclass(frozen=True)
class TaskConfig:
    """What the suite needs from a task folder, whatever its format.

    Times in seconds, sizes in MiB. `dockerfile` is relative to `context` (None: the task
    names only a prebuilt `docker_image`); `hidden` are the names at the top of `context` that
    must stay out of the image build (tests, solution). `workdir` None means the image's own
    WORKDIR; `agent_user` / `verifier_user` None mean the image's USER (Harbor's defaults).
    `network` is Harbor's network mode (`no-network`, `public`, `allowlist`), reported for the
    sandbox's network policy; `env` is applied to every command in the sandbox.
    """

    format: TaskFormat
    path: Path
    instruction: str
    context: Path
    dockerfile: str | None
    workdir: str | None
    agent_timeout_s: float
    test_timeout_s: float
    parser_name: str = "pytest"
    run_tests_in_same_shell: bool = False
    cpus: float = 1.0
    memory_mb: int = 2048
    storage_mb: int | None = None
    network: str = "no-network"
    allowed_hosts: tuple[str, ...] = ()
    agent_user: str | None = None
    verifier_user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    verifier_env: dict[str, str] = field(default_factory=dict)
    solution_env: dict[str, str] = field(default_factory=dict)
    docker_image: str | None = None
    build_timeout_s: float = 600.0
    healthcheck: Healthcheck | None = None
    artifacts: tuple[Artifact, ...] = ()
    collect: tuple[CollectHook, ...] = ()
    compose: ComposeFile | None = None
    disable_asciinema: bool = False
    hidden: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def tests_dir(self) -> Path:
        return self.path / "tests"

    @property
    def dockerfile_text(self) -> str:
        """The Dockerfile, or `FROM <docker_image>` for a task that names only a prebuilt image."""
        if self.dockerfile is None:
            return f"FROM {self.docker_image}\n"
        return (self.context / self.dockerfile).read_text(encoding="utf-8")

    @property
    def allow_internet(self) -> bool:
        return self.network != "no-network"


def detect_format(path: Path) -> TaskFormat:
    """`terminal-bench` (task.yaml) or `harbor` (task.toml); `TaskError` when neither."""
    if not path.is_dir():
        raise TaskError(f"{path}: not a task folder (no such directory)")
    if (path / "task.yaml").is_file():
        return "terminal-bench"
    if (path / "task.toml").is_file():
        return "harbor"
    raise TaskError(
        f"{path}: neither task.yaml (Terminal-Bench) nor task.toml (Harbor) is there; "
        "a task folder needs one of them"
    )


def load_task_config(path: Path, strict: bool = False) -> TaskConfig:
    """Parse the task folder at `path` (either format); `strict` makes unknown keys errors."""
    fmt = detect_format(path)
    return (
        load_terminal_bench(path, strict) if fmt == "terminal-bench" else load_harbor(path, strict)
    )


# -- helpers -------------------------------------------------------------------------------
def _require_files(path: Path, names: tuple[str, ...], fmt: str) -> None:
    for name in names:
        target = path / name
        ok = target.is_dir() if name.endswith("/") else target.is_file()
        if not ok:
            kind = "folder" if name.endswith("/") else "file"
            raise TaskError(
                f"{path}: the {fmt} format needs the {kind} {name.rstrip('/')} "
                f"(missing at {target})"
            )


def dockerfile_workdir(dockerfile: Path) -> str | None:
    """The last `WORKDIR` of the Dockerfile (relative ones resolved), None if it sets none."""
    text = dockerfile.read_text(encoding="utf-8")
    if not _FROM_LINE.search(text):
        raise TaskError(f"{dockerfile}: no FROM line; the Dockerfile must start from an image")
    current: str | None = None
    for m in _WORKDIR.finditer(text):
        value = m.group(1).strip("\"'")
        base = current or "/"
        current = value if value.startswith("/") else f"{base.rstrip('/')}/{value}"
    return current


def size_mb(where: str, key: str, value: str) -> int:
    """'4G' / '512M' / '1024K' as MiB (Harbor's legacy `memory` / `storage` strings)."""
    m = _SIZE.match(str(value))
    if not m:
        raise TaskError(f"{where}: {key} {value!r} is not a size like '2G' or '512M'")
    scale = {"": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024, "T": 2**20}[m.group(2).upper()]
    return max(1, int(float(m.group(1)) * scale))


def resolve_env(where: str, table: str, env: dict[str, str]) -> dict[str, str]:
    """Harbor's `${VAR}` / `${VAR:-default}` values read from this host's environment."""
    out = {}
    for key, value in env.items():
        m = _TEMPLATE.fullmatch(value)
        if not m:
            out[key] = value
        elif m.group(1) in os.environ:
            out[key] = os.environ[m.group(1)]
        elif m.group(2) is not None:
            out[key] = m.group(2)
        else:
            raise TaskError(
                f"{where}: [{table}] {key} = {value!r} needs ${m.group(1)}, which is not set "
                f"on this host: export {m.group(1)}=... before the run"
            )
    return out


def _user(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _compose(path: Path, where_dir: Path, fmt: str) -> ComposeFile | None:
    for name in COMPOSE_FILES:
        if (where_dir / name).is_file():
            return load_compose(where_dir / name, fmt)
    return None


M = TypeVar("M", bound=OpenModel)


def _parse(model: type[M], raw: Any, where: str, strict: bool) -> tuple[M, tuple[str, ...]]:
    """The task file as `model` (a `TaskError` per wrong value) and its unknown-key warnings;
    with `strict`, one `TaskError` listing the unknown keys instead."""
    task = validate(model, raw, where, "task file", error=TaskError)
    lines = unknown_keys(task)
    if strict and lines:
        raise TaskError(
            f"{where}: {'; '.join(lines)} (strict parsing: fix the key, or run without "
            "--strict to only warn about keys this version of ALE-Gym does not know)"
        )
    return task, tuple(lines)


# -- Terminal-Bench --------------------------------------------------------------------------
def load_terminal_bench(path: Path, strict: bool = False) -> TaskConfig:
    """Parse a Terminal-Bench task folder (`task.yaml`, `Dockerfile`, `run-tests.sh`, `tests/`)."""
    where = str(path / "task.yaml")
    try:
        raw = yaml.safe_load((path / "task.yaml").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaskError(f"{path}: no task.yaml") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise TaskError(
            f"{where}{line}: invalid YAML ({getattr(exc, 'problem', None) or exc}); "
            "fix the syntax (multi-line instructions need `instruction: |-`)"
        ) from exc
    if not isinstance(raw, dict):
        raise TaskError(
            f"{where}: expected a mapping of keys (instruction:, parser_name:, ...), "
            f"got {type(raw).__name__}"
        )
    task, warnings = _parse(TerminalBenchTaskFile, raw, where, strict)
    instruction = task.statement()
    if not isinstance(instruction, str) or not instruction.strip():
        raise TaskError(
            f"{where}: `instruction` is missing or empty; it is the task statement shown "
            "to the agent (a non-empty string)"
        )
    if task.env_name:
        raise TaskError(
            f"{where}: env_name {task.env_name!r} names a shared environment of Terminal-Bench "
            "< 0.2, which is not supported: give the task its own Dockerfile"
        )
    if task.parser_name not in PARSERS:
        raise TaskError(
            f"{where}: parser_name {task.parser_name!r} is not supported; supported: "
            f"{', '.join(sorted(PARSERS))} (Terminal-Bench's parsers)"
        )
    _require_files(path, ("run-tests.sh", "tests/"), "Terminal-Bench")
    compose = _compose(path, path, "terminal-bench")
    context, dockerfile = path, "Dockerfile"
    if compose is not None:
        context = compose.main.build_context or path
        dockerfile = compose.main.dockerfile or "Dockerfile"
    if not (context / dockerfile).is_file():
        raise TaskError(f"{path}: the Terminal-Bench format needs {context / dockerfile}")
    workdir = dockerfile_workdir(context / dockerfile)
    env: dict[str, str] = {}
    if compose is not None:
        workdir = compose.main.working_dir or workdir
        env = dict(compose.main.environment)
    meta = {
        k: v
        for k, v in task.model_dump(exclude_none=True).items()
        if k
        in (
            "author_name",
            "author_email",
            "difficulty",
            "category",
            "estimated_duration_sec",
            "expert_time_estimate_min",
            "junior_time_estimate_min",
        )
    }
    return TaskConfig(
        format="terminal-bench",
        path=path,
        instruction=instruction.strip(),
        context=context,
        dockerfile=dockerfile,
        workdir=workdir,
        agent_timeout_s=task.max_agent_timeout_sec,
        test_timeout_s=task.max_test_timeout_sec,
        parser_name=task.parser_name,
        run_tests_in_same_shell=task.run_tests_in_same_shell,
        env=env,
        compose=compose,
        disable_asciinema=task.disable_asciinema,
        hidden=(
            "tests",
            "solution.sh",
            "solution.yaml",
            "run-tests.sh",
            "task.yaml",
            *COMPOSE_FILES,
        ),
        warnings=warnings + (compose.warnings if compose else ()),
        metadata={**meta, "tags": [str(t) for t in task.tags]},
    )


# -- Harbor ------------------------------------------------------------------------------------
def load_harbor(path: Path, strict: bool = False) -> TaskConfig:
    """Parse a Harbor task folder (`task.toml`, `instruction.md`, `environment/`, `tests/test.sh`)."""
    where = str(path / "task.toml")
    try:
        raw = tomllib.loads((path / "task.toml").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaskError(f"{path}: no task.toml") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(
            f"{where}: invalid TOML ({exc}); fix the syntax (strings need quotes, "
            "tables are [verifier], [agent], [environment])"
        ) from exc
    for table in ("metadata", "verifier", "agent", "environment", "solution", "task"):
        if table in raw and not isinstance(raw[table], dict):
            raise TaskError(f"{where}: `{table}` must be a table ([{table}]), got {raw[table]!r}")
    task, warnings = _parse(harbor_spec.HarborTaskFile, raw, where, strict)
    env_dir = path / "environment"
    compose = _compose(path, env_dir, "harbor")
    refused = harbor_spec.refusals(task, compose is not None)
    if refused:
        raise TaskError(f"{where}: cannot run here: {'; '.join(refused)}")
    e = task.environment
    has_dockerfile = (env_dir / "Dockerfile").is_file()
    if not has_dockerfile and e.docker_image is None:
        raise TaskError(
            f"{path}: the Harbor format needs environment/Dockerfile or "
            "[environment] docker_image (neither is there)"
        )
    _require_files(path, ("instruction.md", "tests/test.sh"), "Harbor")
    instruction = (path / "instruction.md").read_text(encoding="utf-8").strip()
    if not instruction:
        raise TaskError(
            f"{path / 'instruction.md'}: empty; it is the task statement shown to the agent"
        )
    for key in ("cpus", "memory_mb", "storage_mb", "build_timeout_sec"):
        value = getattr(e, key)
        if value is not None and value <= 0:
            raise TaskError(f"{where}: environment.{key} must be a positive number, got {value!r}")
    for table, value in (
        ("agent", task.agent.timeout_sec),
        ("verifier", task.verifier.timeout_sec),
    ):
        if value is not None and value <= 0:
            raise TaskError(
                f"{where}: {table}.timeout_sec must be a positive number of seconds, got {value!r}"
            )
    memory = e.memory_mb or (size_mb(where, "environment.memory", e.memory) if e.memory else 2048)
    storage = e.storage_mb or (
        size_mb(where, "environment.storage", e.storage) if e.storage else None
    )
    meta: dict[str, Any] = dict(task.metadata)
    meta.setdefault("tags", [])
    meta["harbor_schema_version"] = task.schema_version
    if task.task is not None:
        meta["task"] = task.task.model_dump(exclude_none=True)
    if task.source is not None:
        meta["source"] = task.source
    if e.skills_dir is not None:
        meta["skills_dir"] = e.skills_dir
    if e.gpu_types:
        meta["gpu_types"] = list(e.gpu_types)
    workdir = e.workdir or (dockerfile_workdir(env_dir / "Dockerfile") if has_dockerfile else None)
    if compose is not None:
        workdir = e.workdir or compose.main.working_dir or workdir
    return TaskConfig(
        format="harbor",
        path=path,
        instruction=instruction,
        context=env_dir,
        dockerfile="Dockerfile" if has_dockerfile else None,
        workdir=workdir,
        agent_timeout_s=task.agent.timeout_sec or 600.0,
        test_timeout_s=task.verifier.timeout_sec,
        cpus=float(e.cpus or 1),
        memory_mb=int(memory),
        storage_mb=storage,
        network=e.network,
        allowed_hosts=tuple(e.allowed_hosts or ()),
        agent_user=_user(task.agent.user),
        verifier_user=_user(task.verifier.user),
        env={
            **(compose.main.environment if compose else {}),
            **resolve_env(where, "environment.env", e.env),
        },
        verifier_env=resolve_env(where, "verifier.env", task.verifier.env),
        solution_env=resolve_env(where, "solution.env", task.solution.env),
        docker_image=e.docker_image,
        build_timeout_s=e.build_timeout_sec,
        healthcheck=e.healthcheck,
        artifacts=tuple(task.artifact_entries()),
        collect=tuple(task.verifier.collect),
        compose=compose,
        warnings=warnings + (compose.warnings if compose else ()),
        metadata=meta,
    )
