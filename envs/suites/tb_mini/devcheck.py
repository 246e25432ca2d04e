"""Development checker for the tb-mini task folders (self-contained; no ALE imports).

Each task folder is either a Terminal-Bench task (`task.yaml`, `Dockerfile`, `run-tests.sh`,
`tests/`, `solution.sh`) or a Harbor task (`task.toml`, `instruction.md`, `environment/`,
`tests/test.sh`, `solution/solve.sh`). This module:

* validates a folder (required files, required metadata keys),
* builds its image with every `FROM` rewritten to a local base (default `ale-base:bookworm`),
* runs a trial the way the real harnesses do: start a container (no network), optionally run
  the oracle, copy the tests to `/tests`, run the test script, and read the verdict (pytest exit
  status for Terminal-Bench, `/logs/verifier/reward.txt` for Harbor).

CLI: `python -m envs.suites.tb_mini.devcheck [--repeat N] [--keep] [TASK_ID ...]` builds each
task, runs the oracle N times (each must pass) and one trial without it (must fail).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SUITE_DIR = Path(__file__).resolve().parent
TASKS_DIR = SUITE_DIR / "tasks"
INDEX = TASKS_DIR / "index.json"
DEFAULT_BASE = "ale-base:bookworm"
TAG_PREFIX = "ale-tbmini-dev/"
FORMATS = ("terminal-bench", "harbor")
DOMAINS = (
    "data-processing",
    "games",
    "debugging",
    "system-administration",
    "scientific-computing",
    "software-engineering",
    "machine-learning",
    "security",
)
DIFFICULTIES = ("easy", "medium", "hard")

TB_FILES = (
    "task.yaml",
    "Dockerfile",
    "docker-compose.yaml",
    "run-tests.sh",
    "tests/test_outputs.py",
    "solution.sh",
)
TB_KEYS = (
    "instruction",
    "author_name",
    "author_email",
    "difficulty",
    "category",
    "tags",
    "parser_name",
    "max_agent_timeout_sec",
    "max_test_timeout_sec",
    "run_tests_in_same_shell",
    "expert_time_estimate_min",
    "junior_time_estimate_min",
)
HARBOR_FILES = (
    "task.toml",
    "instruction.md",
    "environment/Dockerfile",
    "tests/test.sh",
    "solution/solve.sh",
)
HARBOR_KEYS = {
    "": ("version", "metadata", "verifier", "agent", "environment"),
    "metadata": ("author_name", "author_email", "difficulty", "category", "tags"),
    "verifier": ("timeout_sec",),
    "agent": ("timeout_sec",),
    "environment": ("build_timeout_sec", "cpus", "memory_mb", "storage_mb"),
}
REWARD_PATH = "/logs/verifier/reward.txt"
_FROM = re.compile(r"^(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+)(.*)$", re.IGNORECASE | re.MULTILINE)


def task_format(task_dir: Path) -> str:
    """`terminal-bench` (task.yaml) or `harbor` (task.toml)."""
    if (task_dir / "task.yaml").is_file():
        return "terminal-bench"
    if (task_dir / "task.toml").is_file():
        return "harbor"
    raise ValueError(f"{task_dir}: neither task.yaml nor task.toml")


def load_index() -> list[dict[str, str]]:
    return json.loads(INDEX.read_text())


def task_dirs() -> list[Path]:
    return [TASKS_DIR / entry["id"] for entry in load_index()]


def load_config(task_dir: Path) -> dict:
    if task_format(task_dir) == "terminal-bench":
        return yaml.safe_load((task_dir / "task.yaml").read_text())
    return tomllib.loads((task_dir / "task.toml").read_text())


def validate(task_dir: Path) -> list[str]:
    """Problems with a task folder; empty when it is well formed."""
    fmt = task_format(task_dir)
    problems: list[str] = []
    files = TB_FILES if fmt == "terminal-bench" else HARBOR_FILES
    problems += [f"missing {name}" for name in files if not (task_dir / name).is_file()]
    try:
        config = load_config(task_dir)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        return [*problems, f"config does not parse: {exc}"]
    if fmt == "terminal-bench":
        problems += [f"task.yaml lacks {key}" for key in TB_KEYS if key not in config]
        if config.get("parser_name") != "pytest":
            problems.append("parser_name is not pytest")
        difficulty = config.get("difficulty")
        if not str(config.get("instruction", "")).strip():
            problems.append("empty instruction")
        compose = yaml.safe_load((task_dir / "docker-compose.yaml").read_text()) or {}
        if "client" not in compose.get("services", {}):
            problems.append("docker-compose.yaml has no client service")
    else:
        for table, keys in HARBOR_KEYS.items():
            section = config.get(table, {}) if table else config
            problems += [
                f"task.toml lacks {table or '<top>'}.{key}" for key in keys if key not in section
            ]
        difficulty = config.get("metadata", {}).get("difficulty")
        if not (task_dir / "instruction.md").read_text().strip():
            problems.append("empty instruction.md")
        if REWARD_PATH not in (task_dir / "tests/test.sh").read_text():
            problems.append(f"tests/test.sh never writes {REWARD_PATH}")
    if difficulty not in DIFFICULTIES:
        problems.append(f"difficulty {difficulty!r} not in {DIFFICULTIES}")
    dockerfile = dockerfile_path(task_dir).read_text()
    if not _FROM.search(dockerfile):
        problems.append("Dockerfile has no FROM")
    if re.search(r"^\s*COPY\s+.*\b(tests|solution)\b", dockerfile, re.MULTILINE):
        problems.append("Dockerfile copies tests or the solution into the image")
    return problems


def dockerfile_path(task_dir: Path) -> Path:
    if task_format(task_dir) == "terminal-bench":
        return task_dir / "Dockerfile"
    return task_dir / "environment" / "Dockerfile"


def substitute_from(dockerfile: str, base: str = DEFAULT_BASE) -> str:
    """Every external FROM image becomes `base` (stage names and scratch stay)."""
    stages: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        image, rest = m.group(2), m.group(3)
        alias = re.search(r"\s+AS\s+(\S+)", rest, re.IGNORECASE)
        new = image if image in stages or image.lower() == "scratch" else base
        if alias:
            stages.add(alias.group(1))
        return f"{m.group(1)}{new}{rest}"

    return _FROM.sub(sub, dockerfile)


def image_tag(task_dir: Path) -> str:
    return TAG_PREFIX + task_dir.name


def _docker(
    *args: str, timeout: float = 300, check: bool = True, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, input=input_text
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"docker {' '.join(args[:3])} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def build(task_dir: Path, base: str = DEFAULT_BASE, tag: str | None = None) -> str:
    """Build the task image with FROM rewritten to `base`; returns the tag."""
    tag = tag or image_tag(task_dir)
    context = dockerfile_path(task_dir).parent
    with tempfile.TemporaryDirectory(prefix="tbmini-ctx-") as tmp:
        ctx = Path(tmp) / "ctx"
        hidden = set()
        if task_format(task_dir) == "terminal-bench":  # context is the task folder itself
            hidden = {"tests", "solution.sh", "run-tests.sh", "task.yaml"}

        def ignore(folder: str, names: list[str]) -> set[str]:
            return hidden & set(names) if Path(folder) == context else set()

        shutil.copytree(context, ctx, ignore=ignore)
        (ctx / "Dockerfile").write_text(substitute_from((ctx / "Dockerfile").read_text(), base))
        _docker("build", "-q", "--network", "none", "-t", tag, str(ctx), timeout=600)
    return tag


def remove_image(tag: str) -> None:
    _docker("rmi", "-f", tag, check=False, timeout=120)


@dataclass
class Trial:
    passed: bool
    output: str
    oracle_output: str = ""


def run_trial(task_dir: Path, tag: str | None = None, oracle: bool = True) -> Trial:
    """Fresh container -> (oracle) -> copy tests -> run them; `passed` is the verdict."""
    fmt = task_format(task_dir)
    config = load_config(task_dir)
    tag = tag or image_tag(task_dir)
    if fmt == "terminal-bench":
        agent_timeout = float(config["max_agent_timeout_sec"])
        test_timeout = float(config["max_test_timeout_sec"])
    else:
        agent_timeout = float(config["agent"]["timeout_sec"])
        test_timeout = float(config["verifier"]["timeout_sec"])
    name = f"tbmini-{task_dir.name}-{uuid.uuid4().hex[:8]}"
    _docker(
        "run",
        "-d",
        "--rm",
        "--network",
        "none",
        "--name",
        name,
        "-e",
        "TEST_DIR=/tests",
        tag,
        "sleep",
        "infinity",
        timeout=120,
    )
    try:
        oracle_out = ""
        if oracle:
            if fmt == "terminal-bench":
                _docker("exec", name, "mkdir", "-p", "/oracle")
                _docker("cp", str(task_dir / "solution.sh"), f"{name}:/oracle/solution.sh")
                cmd = ["bash", "/oracle/solution.sh"]
            else:
                _docker("cp", str(task_dir / "solution") + "/.", f"{name}:/solution")
                cmd = ["bash", "/solution/solve.sh"]
            proc = _docker("exec", name, *cmd, timeout=agent_timeout, check=False)
            oracle_out = f"[oracle rc={proc.returncode}]\n{proc.stdout}{proc.stderr}"
        _docker("exec", name, "mkdir", "-p", "/tests", "/logs/verifier")
        _docker("cp", str(task_dir / "tests") + "/.", f"{name}:/tests")
        if fmt == "terminal-bench":
            _docker("cp", str(task_dir / "run-tests.sh"), f"{name}:/tests/run-tests.sh")
            proc = _docker(
                "exec", name, "bash", "/tests/run-tests.sh", timeout=test_timeout, check=False
            )
            out = proc.stdout + proc.stderr
            passed = proc.returncode == 0 and " passed" in out and "FAILED" not in out
        else:
            proc = _docker(
                "exec", name, "bash", "/tests/test.sh", timeout=test_timeout, check=False
            )
            out = proc.stdout + proc.stderr
            reward = _docker("exec", name, "cat", REWARD_PATH, check=False).stdout.strip()
            out += f"\n[reward={reward!r}]"
            passed = reward in ("1", "1.0")
        return Trial(passed, out, oracle_out)
    finally:
        _docker("rm", "-f", name, check=False, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="task ids (default: all in index.json)")
    parser.add_argument("--repeat", type=int, default=1, help="oracle trials per task")
    parser.add_argument("--base", default=DEFAULT_BASE)
    parser.add_argument("--keep", action="store_true", help="keep the built images")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    dirs = [TASKS_DIR / i for i in args.ids] if args.ids else task_dirs()
    failures = 0
    for task_dir in dirs:
        problems = validate(task_dir)
        if problems:
            print(f"{task_dir.name}: INVALID {problems}")
            failures += 1
            continue
        tag = build(task_dir, args.base)
        try:
            results = [run_trial(task_dir, tag, oracle=True) for _ in range(args.repeat)]
            bare = run_trial(task_dir, tag, oracle=False)
        finally:
            if not args.keep:
                remove_image(tag)
        ok = all(r.passed for r in results) and not bare.passed
        failures += not ok
        print(
            f"{task_dir.name}: oracle {sum(r.passed for r in results)}/{len(results)}, "
            f"bare {'PASSED (bad)' if bare.passed else 'failed (good)'} -> {'OK' if ok else 'BAD'}"
        )
        if args.verbose or not ok:
            for r in results:
                if not r.passed or args.verbose:
                    print(r.oracle_output[-4000:], r.output[-6000:], sep="\n")
            if bare.passed or args.verbose:
                print(bare.output[-3000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
