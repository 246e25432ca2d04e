"""Task folder parsing: Terminal-Bench `task.yaml` and Harbor `task.toml` into typed configs.

Pure functions, no sandbox: a broken folder raises `TaskError` naming the file, the key and
the fix. Two layouts are recognised (paths relative to the task folder):

    Terminal-Bench                      Harbor (Terminal Bench Pro)
    task.yaml                           task.toml
    Dockerfile (build context: .)       instruction.md
    run-tests.sh                        environment/Dockerfile (build context: environment/)
    tests/                              tests/test.sh (writes /logs/verifier/reward.{txt,json})
    solution.sh or solution.yaml        solution/solve.sh

Unknown keys fail in `strict` mode (the default) with a "did you mean" hint, so a typo such as
`max_agent_timout_sec` cannot silently fall back to a default.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from envs.core.errors import TaskError
from envs.suites.terminal_bench.parsers import PARSERS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TaskFormat = Literal["terminal-bench", "harbor"]
FORMAT_FILES: dict[str, str] = {"terminal-bench": "task.yaml", "harbor": "task.toml"}
DEFAULT_WORKDIR = "/app"

#: task.yaml keys across Terminal-Bench versions (instruction, or the older `descriptions`).
TB_KEYS = frozenset(
    {
        "instruction",
        "descriptions",
        "author_name",
        "author_email",
        "difficulty",
        "category",
        "tags",
        "parser_name",
        "max_agent_timeout_sec",
        "max_test_timeout_sec",
        "run_tests_in_same_shell",
        "disable_asciinema",
        "estimated_duration_sec",
        "expert_time_estimate_min",
        "junior_time_estimate_min",
        "test_scripts",
        "env_name",
    }
)
#: Harbor task.toml tables and their known keys (`metadata` is free-form).
HARBOR_TABLES: dict[str, frozenset[str] | None] = {
    "version": None,
    "source": None,
    "metadata": None,
    "verifier": frozenset({"timeout_sec", "env"}),
    "agent": frozenset({"timeout_sec"}),
    "environment": frozenset(
        {
            "build_timeout_sec",
            "docker_image",
            "cpus",
            "memory",
            "memory_mb",
            "storage",
            "storage_mb",
            "gpus",
            "gpu_types",
            "allow_internet",
            "env",
        }
    ),
    "solution": frozenset({"env"}),
}
_WORKDIR = re.compile(r"^\s*WORKDIR\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_FROM_LINE = re.compile(r"^\s*FROM\s", re.IGNORECASE | re.MULTILINE)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TaskConfig:
    """What the suite needs from a task folder, whatever its format.

    Times in seconds, memory in MiB. `dockerfile` is relative to `context`; `hidden` are the
    names at the top of `context` that must stay out of the image build (tests, solution).
    """

    format: TaskFormat
    path: Path
    instruction: str
    context: Path
    dockerfile: str
    workdir: str
    agent_timeout_s: float
    test_timeout_s: float
    parser_name: str = "pytest"
    run_tests_in_same_shell: bool = False
    cpus: float = 1.0
    memory_mb: int = 2048
    allow_internet: bool = False
    verifier_env: dict[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def tests_dir(self) -> Path:
        return self.path / "tests"

    @property
    def dockerfile_text(self) -> str:
        return (self.context / self.dockerfile).read_text(encoding="utf-8")


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


def load_task_config(path: Path, strict: bool = True) -> TaskConfig:
    """Parse the task folder at `path` (either format)."""
    fmt = detect_format(path)
    return (
        load_terminal_bench(path, strict) if fmt == "terminal-bench" else load_harbor(path, strict)
    )


# -- helpers -------------------------------------------------------------------------------
def _unknown_keys(where: str, keys: Mapping[str, Any], known: frozenset[str] | set[str]) -> None:
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TaskError(
                f"{where}: unknown key {key!r}.{hint} Known keys: {', '.join(sorted(known))} "
                "(pass strict=False to ignore unknown keys)"
            )


def _number(where: str, key: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TaskError(f"{where}: {key} must be a positive number of seconds, got {value!r}")
    return float(value)


def _flag(where: str, key: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TaskError(f"{where}: {key} must be true or false, got {value!r}")
    return value


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


def _workdir(dockerfile: Path) -> str:
    """The last `WORKDIR` of the Dockerfile (relative ones resolved), else `/app`."""
    text = dockerfile.read_text(encoding="utf-8")
    if not _FROM_LINE.search(text):
        raise TaskError(f"{dockerfile}: no FROM line; the Dockerfile must start from an image")
    current = "/"
    found = False
    for m in _WORKDIR.finditer(text):
        value = m.group(1).strip("\"'")
        current = value if value.startswith("/") else f"{current.rstrip('/')}/{value}"
        found = True
    return current if found else DEFAULT_WORKDIR


def _memory_mb(where: str, env: Mapping[str, Any]) -> int:
    if "memory_mb" in env:
        value = env["memory_mb"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise TaskError(
                f"{where}: environment.memory_mb must be a positive number, got {value!r}"
            )
        return int(value)
    if "memory" in env:
        m = _MEMORY.match(str(env["memory"]))
        if not m:
            raise TaskError(
                f"{where}: environment.memory {env['memory']!r} is not a size like '2G' or '512M'"
            )
        scale = {"": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024, "T": 2**20}[m.group(2).upper()]
        return max(1, int(float(m.group(1)) * scale))
    return 2048


# -- Terminal-Bench --------------------------------------------------------------------------
def load_terminal_bench(path: Path, strict: bool = True) -> TaskConfig:
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
    if strict:
        _unknown_keys(where, raw, TB_KEYS)
    instruction = raw.get("instruction")
    if instruction is None and isinstance(raw.get("descriptions"), list):  # Terminal-Bench < 0.2
        base = [d for d in raw["descriptions"] if isinstance(d, dict) and d.get("key") == "base"]
        instruction = (
            (base or raw["descriptions"])[0].get("description") if raw["descriptions"] else None
        )
    if not isinstance(instruction, str) or not instruction.strip():
        raise TaskError(
            f"{where}: `instruction` is missing or empty; it is the task statement shown "
            "to the agent (a non-empty string)"
        )
    parser = raw.get("parser_name", "pytest")
    if parser not in PARSERS:
        raise TaskError(
            f"{where}: parser_name {parser!r} is not supported; supported: "
            f"{', '.join(sorted(PARSERS))} (run-tests.sh must print pytest's `-rA` summary)"
        )
    _require_files(path, ("Dockerfile", "run-tests.sh", "tests/"), "Terminal-Bench")
    tags = raw.get("tags") or []
    if not isinstance(tags, list):
        raise TaskError(f"{where}: tags must be a list of strings, got {tags!r}")
    meta = {
        k: raw[k]
        for k in (
            "author_name",
            "author_email",
            "difficulty",
            "category",
            "expert_time_estimate_min",
            "junior_time_estimate_min",
        )
        if k in raw
    }
    return TaskConfig(
        format="terminal-bench",
        path=path,
        instruction=instruction.strip(),
        context=path,
        dockerfile="Dockerfile",
        workdir=_workdir(path / "Dockerfile"),
        agent_timeout_s=_number(
            where, "max_agent_timeout_sec", raw.get("max_agent_timeout_sec"), 360.0
        ),
        test_timeout_s=_number(
            where, "max_test_timeout_sec", raw.get("max_test_timeout_sec"), 60.0
        ),
        parser_name=str(parser),
        run_tests_in_same_shell=_flag(
            where, "run_tests_in_same_shell", raw.get("run_tests_in_same_shell"), False
        ),
        hidden=(
            "tests",
            "solution.sh",
            "solution.yaml",
            "run-tests.sh",
            "task.yaml",
            "docker-compose.yaml",
            "docker-compose.yml",
        ),
        metadata={**meta, "tags": [str(t) for t in tags]},
    )


# -- Harbor ------------------------------------------------------------------------------------
def load_harbor(path: Path, strict: bool = True) -> TaskConfig:
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
    if strict:
        _unknown_keys(where, raw, set(HARBOR_TABLES))
    tables: dict[str, dict[str, Any]] = {}
    for table in ("metadata", "verifier", "agent", "environment", "solution"):
        value = raw.get(table, {})
        if not isinstance(value, dict):
            raise TaskError(f"{where}: `{table}` must be a table ([{table}]), got {value!r}")
        known = HARBOR_TABLES[table]
        if strict and known is not None:
            _unknown_keys(f"{where} [{table}]", value, known)
        tables[table] = value
    _require_files(path, ("instruction.md", "environment/Dockerfile", "tests/test.sh"), "Harbor")
    instruction = (path / "instruction.md").read_text(encoding="utf-8").strip()
    if not instruction:
        raise TaskError(
            f"{path / 'instruction.md'}: empty; it is the task statement shown to the agent"
        )
    env = tables["environment"]
    cpus = env.get("cpus", 1)
    if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
        raise TaskError(f"{where}: environment.cpus must be a positive number, got {cpus!r}")
    verifier_env = tables["verifier"].get("env", {})
    if not isinstance(verifier_env, dict):
        raise TaskError(f"{where}: verifier.env must be a table of strings, got {verifier_env!r}")
    meta = dict(tables["metadata"])
    meta.setdefault("tags", [])
    if "version" in raw:
        meta["harbor_version"] = str(raw["version"])
    return TaskConfig(
        format="harbor",
        path=path,
        instruction=instruction,
        context=path / "environment",
        dockerfile="Dockerfile",
        workdir=_workdir(path / "environment" / "Dockerfile"),
        agent_timeout_s=_number(
            where, "agent.timeout_sec", tables["agent"].get("timeout_sec"), 600.0
        ),
        test_timeout_s=_number(
            where, "verifier.timeout_sec", tables["verifier"].get("timeout_sec"), 600.0
        ),
        cpus=float(cpus),
        memory_mb=_memory_mb(where, env),
        allow_internet=_flag(where, "environment.allow_internet", env.get("allow_internet"), False),
        verifier_env={str(k): str(v) for k, v in verifier_env.items()},
        metadata=meta,
    )
