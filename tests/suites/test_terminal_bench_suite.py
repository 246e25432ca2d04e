"""Terminal-Bench / Harbor suites: parsing (good and broken folders), FROM rewriting, reward
files, and in Docker, through `gymnasium.make("ale/TBMini-v0")`: every tb-mini task's oracle
gives reward 1, doing nothing gives 0, and the tests are not readable during the episode.

The Docker checks run the tb-mini tasks in parallel threads (one env each) inside a single test so
the whole file stays at a few minutes on 2 cores; failures name every task that failed.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium
import pytest

import envs  # noqa: F401  (registers ale/* ids)
from agents.policies.oracle import encoded_command, render_call
from envs.core.env import ChunkEnv
from envs.core.errors import EnvError, TaskError
from envs.core.suites import resolve_suite
from envs.rock import DEFAULT_IMAGE
from envs.rock.standins import STANDINS
from envs.suites.terminal_bench import (
    TB_MINI_TASKS,
    HarborSuite,
    TaskFolderSuite,
    TerminalBenchSuite,
    load_task_config,
    parse_pytest,
    read_reward,
    tb_mini,
)
from envs.suites.terminal_bench.task import FolderTask
from envs.suites.terminal_bench.task_image import DEFAULT_BASE_MAP, base_map, image_tag
from tests.conftest import once_per_session

INDEX = json.loads((TB_MINI_TASKS / "index.json").read_text())
WORKDIRS = {"report-job-service-account": "/srv/reports"}  # [environment] workdir
IDS = [entry["id"] for entry in INDEX]
TB_BASE = "ghcr.io/laude-institute/t-bench/python-3-13:20250620"
#: Synthetic Terminal-Bench tasks run on the CI's base image (its stand-in needs Debian trixie).
ON_ALE_BASE = {TB_BASE: DEFAULT_IMAGE}

# ----------------------------------------------------------------------------- task folders

TASK_YAML = """\
instruction: |-
  Write hello into /work/out.txt.
author_name: Test
author_email: t@example.com
difficulty: easy
category: software-engineering
tags: [demo]
parser_name: pytest
max_agent_timeout_sec: 120.0
max_test_timeout_sec: 30.0
run_tests_in_same_shell: {same_shell}
expert_time_estimate_min: 1
junior_time_estimate_min: 2
"""
TB_DOCKERFILE = f"FROM {TB_BASE}\nWORKDIR /work\n"
RUN_TESTS = '#!/bin/bash\npython3 -m pytest -p no:cacheprovider "$TEST_DIR/test_outputs.py" -rA\n'
TEST_OUTPUTS = """\
import os
from pathlib import Path


def test_file():
    assert Path("/work/out.txt").read_text().strip() == "hello"


def test_marker():
    assert os.environ.get("AGENT_MARK", "unset") == os.environ.get("WANT_MARK", "unset")
"""
TASK_TOML = """\
version = "1.0"

[metadata]
difficulty = "easy"
category = "debugging"
tags = ["demo"]

[verifier]
timeout_sec = 30.0

[verifier.env]
WANT = "half"

[agent]
timeout_sec = 120.0

[environment]
build_timeout_sec = 60.0
cpus = 2
memory = "4G"
allow_internet = false
"""
HARBOR_TEST = """\
#!/bin/bash
mkdir -p /logs/verifier
if [ "$(cat /srv/out.txt 2>/dev/null)" = hello ]; then r=1; elif [ -f /srv/out.txt ]; then r=0.5; else r=0; fi
echo "{\\"reward\\": $r, \\"want_$WANT\\": 1}" > /logs/verifier/reward.json
"""


def write_tb_task(root: Path, name: str = "hello-tb", same_shell: bool = False) -> Path:
    path = root / name
    (path / "tests").mkdir(parents=True)
    (path / "task.yaml").write_text(TASK_YAML.format(same_shell=str(same_shell).lower()))
    (path / "Dockerfile").write_text(TB_DOCKERFILE)
    (path / "run-tests.sh").write_text(RUN_TESTS)
    (path / "tests" / "test_outputs.py").write_text(TEST_OUTPUTS)
    (path / "solution.sh").write_text("#!/bin/bash\necho hello > /work/out.txt\n")
    return path


def write_harbor_task(root: Path, name: str = "hello-harbor") -> Path:
    path = root / name
    for sub in ("environment", "tests", "solution"):
        (path / sub).mkdir(parents=True)
    (path / "task.toml").write_text(TASK_TOML)
    (path / "instruction.md").write_text("Write hello into /srv/out.txt.\n")
    (path / "environment" / "Dockerfile").write_text(
        "FROM python:3.11-slim-bookworm AS base\nFROM base\nWORKDIR /srv\n"
    )
    (path / "tests" / "test.sh").write_text(HARBOR_TEST)
    (path / "solution" / "solve.sh").write_text('bash "$(dirname "$0")/helper.sh"\n')
    (path / "solution" / "helper.sh").write_text("echo hello > /srv/out.txt\n")
    return path


def test_tb_mini_loads_every_task_with_metadata() -> None:
    suite = tb_mini()
    assert suite.task_ids() == IDS and suite.name == "tb-mini"
    for entry in INDEX:
        task = suite.load(entry["id"])
        meta = task.metadata
        assert meta["format"] == entry["format"] and meta["category"] == entry["domain"]
        assert task.workdir == WORKDIRS.get(entry["id"], "/app") and task.instruction.strip()
        base = meta["base_images"][0]
        expected_base = STANDINS["python:3.11-slim"].tag if "3.11" in base else DEFAULT_IMAGE
        assert meta["from_substitutions"] == {base: expected_base}
        assert task.sandbox_spec().image == task.image and task.sandbox_spec().network == "none"
        assert meta["agent_timeout_s"] > 0 and meta["test_timeout_s"] > 0
        assert meta["warnings"] == [], entry["id"]  # tb-mini uses only keys ALE-Gym knows
    assert len(TerminalBenchSuite(TB_MINI_TASKS)) == len(HarborSuite(TB_MINI_TASKS)) == 9
    assert tb_mini(task_ids=["sokoban-solver"]).task_ids() == ["sokoban-solver"]


def test_spec_tasks_of_tb_mini_parse_to_harbor_semantics() -> None:
    """The tb-mini tasks written to cover the spec: users, workdir, env tables, artifacts,
    schema_version / [task], services (compose, both formats), same-shell grading."""
    suite = tb_mini()
    report = suite.load("report-job-service-account")
    c = report.config
    assert c.metadata["harbor_schema_version"] == "1.4"
    assert c.metadata["task"]["name"] == "ale-gym/report-job-service-account"
    assert (c.workdir, c.agent_user, c.verifier_user) == ("/srv/reports", "reporter", "auditor")
    assert c.env == {"REPORT_CURRENCY": "EUR"} and c.verifier_env == {"REPORT_OWNER": "reporter"}
    assert c.solution_env == {"REPORT_FORMAT": "github"} and c.network == "no-network"
    assert [(a.source, a.destination) for a in c.artifacts] == [
        ("/srv/reports/out", None),
        ("/var/log/report-job/run.log", "job/run.log"),
    ]
    spec = report.sandbox_spec()
    assert spec.user == "reporter" and spec.env["REPORT_CURRENCY"] == "EUR"
    assert (
        spec.session_users["ale-grader"] == "auditor" and spec.session_users["ale-setup"] == "root"
    )
    stock = suite.load("stock-service-lookup").config
    assert stock.compose is not None and [s.name for s in stock.compose.sidecars] == ["inventory"]
    assert stock.env["INVENTORY_URL"] == "http://inventory:8080" and stock.healthcheck is not None
    assert (stock.memory_mb, stock.network) == (1024, "no-network")  # legacy memory, allow_internet
    fx = suite.load("fx-rates-sidecar").config
    assert fx.compose is not None and [s.name for s in fx.compose.sidecars] == ["fxrates"]
    assert fx.env == {"TEST_DIR": "/tests"}  # the client service's T_BENCH_TEST_DIR
    shell = suite.load("project-shell-setup")
    assert shell.config.run_tests_in_same_shell and shell.config.disable_asciinema
    assert shell.oracle_actions()[1:] == [
        "export BILLING_ENV=staging BILLING_HOME=/app/billing",
        "export PATH=/app/billing/bin:$PATH",
        "umask 027",
        "mkdir -p /app/billing/var && cd /app/billing/var",
    ]
    assert tb_mini(task_ids=["sokoban-solver"]).task_ids() == ["sokoban-solver"]


def _unpack_oracle(command: str) -> dict[str, bytes]:
    blob = command.split("echo ", 1)[1].split(" ", 1)[0]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(blob))) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("task_id", ["sales-csv-consolidate", "semver-range-matcher"])
def test_oracle_actions_carry_the_shipped_solution(task_id: str) -> None:
    task = tb_mini().load(task_id)
    (command,) = task.oracle_actions()
    files = _unpack_oracle(command)
    path = TB_MINI_TASKS / task_id
    if task.config.format == "terminal-bench":
        assert files == {"solution.sh": (path / "solution.sh").read_bytes()}
        assert command.endswith("cd /app && bash /oracle/solution.sh")
    else:
        assert files == {p.name: p.read_bytes() for p in (path / "solution").iterdir()}
        # as Harbor's oracle: executable, run in the workdir, output kept, any exit code
        assert "chmod +x /solution/solve.sh" in command and "cd /app && (" in command
        assert "/solution/solve.sh) > /logs/agent/oracle.txt 2>&1; __rc=$?" in command


def test_good_terminal_bench_folder_parses(tmp_path: Path) -> None:
    config = load_task_config(write_tb_task(tmp_path, same_shell=True))
    assert (
        config.format == "terminal-bench"
        and config.instruction == "Write hello into /work/out.txt."
    )
    assert (config.agent_timeout_s, config.test_timeout_s) == (120.0, 30.0)
    assert config.parser_name == "pytest" and config.run_tests_in_same_shell
    assert config.workdir == "/work" and config.context == tmp_path / "hello-tb"
    assert {"tests", "solution.sh", "run-tests.sh", "task.yaml"} <= set(config.hidden)
    assert config.metadata["difficulty"] == "easy" and config.metadata["tags"] == ["demo"]


def test_terminal_bench_defaults_and_old_descriptions(tmp_path: Path) -> None:
    path = write_tb_task(tmp_path)
    (path / "task.yaml").write_text(
        "descriptions:\n  - key: base\n    description: Do the thing.\n"
    )
    (path / "Dockerfile").write_text(f"FROM {TB_BASE}\nWORKDIR /opt\nWORKDIR proj\n")
    config = load_task_config(path)
    assert config.instruction == "Do the thing." and config.workdir == "/opt/proj"
    assert (config.agent_timeout_s, config.test_timeout_s, config.parser_name) == (
        360.0,
        60.0,
        "pytest",
    )


def test_good_harbor_folder_parses(tmp_path: Path) -> None:
    config = load_task_config(write_harbor_task(tmp_path))
    assert config.format == "harbor" and config.instruction == "Write hello into /srv/out.txt."
    assert (config.cpus, config.memory_mb, config.workdir) == (2.0, 4096, "/srv")
    assert (
        config.verifier_env == {"WANT": "half"}
        and config.context == tmp_path / "hello-harbor/environment"
    )
    assert (config.agent_timeout_s, config.test_timeout_s) == (120.0, 30.0)
    assert (
        config.metadata["category"] == "debugging"
        and config.metadata["harbor_schema_version"] == "1.0"
    )


def _edit(rel: str, text: str | None) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        target = path / rel
        if text is None:
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        else:
            target.write_text(text)

    return apply


def _replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        target = path / rel
        assert old in target.read_text()
        target.write_text(target.read_text().replace(old, new))

    return apply


TB_BROKEN = [
    (
        "yaml-syntax",
        _edit("task.yaml", "instruction: [unclosed\nparser_name: pytest\n"),
        ["invalid YAML", "line"],
    ),
    ("not-a-mapping", _edit("task.yaml", "- a\n- b\n"), ["expected a mapping"]),
    (
        "no-instruction",
        _replace("task.yaml", "instruction: |-\n  Write hello into /work/out.txt.\n", ""),
        ["`instruction` is missing"],
    ),
    (
        "bad-parser",
        _replace("task.yaml", "parser_name: pytest", "parser_name: junit"),
        ["parser_name 'junit' is not supported", "pytest"],
    ),
    (
        "bad-timeout",
        _replace("task.yaml", "max_test_timeout_sec: 30.0", "max_test_timeout_sec: soon"),
        ["max_test_timeout_sec: Input should be a valid number", "'soon'"],
    ),
    (
        "bad-flag",
        _replace("task.yaml", "run_tests_in_same_shell: false", "run_tests_in_same_shell: maybe"),
        ["run_tests_in_same_shell: Input should be a valid boolean", "'maybe'"],
    ),
    ("no-run-tests", _edit("run-tests.sh", None), ["needs the file run-tests.sh"]),
    (
        "env-name",
        _replace("task.yaml", "parser_name: pytest", "parser_name: pytest\nenv_name: py-base"),
        ["env_name 'py-base'", "own Dockerfile"],
    ),
    ("no-tests", _edit("tests", None), ["needs the folder tests"]),
    ("no-from", _edit("Dockerfile", "WORKDIR /work\n"), ["no FROM line"]),
]
HARBOR_BROKEN = [
    ("toml-syntax", _edit("task.toml", "[verifier\ntimeout_sec = 3\n"), ["invalid TOML"]),
    (
        "bad-type",
        _replace("task.toml", "timeout_sec = 120.0", 'timeout_sec = "two minutes"'),
        ["agent.timeout_sec: Input should be a valid number"],
    ),
    (
        "windows",
        _replace("task.toml", "cpus = 2", 'cpus = 2\nos = "Windows"'),
        ["cannot run here", "os = 'windows'", "Linux containers"],
    ),
    (
        "gpus",
        _replace("task.toml", "cpus = 2", "cpus = 2\ngpus = 1"),
        ["cannot run here", "gpus = 1", "no GPUs"],
    ),
    (
        "mcp",
        _edit(
            "task.toml",
            TASK_TOML + '[[environment.mcp_servers]]\nname = "tools"\nurl = "http://x:8000/sse"\n',
        ),
        ["cannot run here", "mcp_servers (tools)", "no MCP client"],
    ),
    (
        "multi-step",
        _edit("task.toml", TASK_TOML + '[[steps]]\nname = "one"\n[[steps]]\nname = "two"\n'),
        ["cannot run here", "[[steps]] (2 steps)", "multi-step"],
    ),
    (
        "separate-verifier",
        _replace("task.toml", "[verifier.env]", 'environment_mode = "separate"\n\n[verifier.env]'),
        ["cannot run here", "environment_mode = 'separate'"],
    ),
    (
        "env-template",
        _edit("task.toml", TASK_TOML + '[environment.env]\nTOKEN = "${ALE_TEST_UNSET_VAR}"\n'),
        ["[environment.env] TOKEN", "ALE_TEST_UNSET_VAR", "export"],
    ),
    ("not-a-table", _edit("task.toml", "verifier = 3\n"), ["`verifier` must be a table"]),
    ("no-instruction", _edit("instruction.md", None), ["needs the file instruction.md"]),
    (
        "no-image",
        _edit("environment/Dockerfile", None),
        ["needs environment/Dockerfile or [environment] docker_image"],
    ),
    ("empty-instruction", _edit("instruction.md", "  \n"), ["instruction.md: empty"]),
    ("no-test-sh", _edit("tests/test.sh", None), ["needs the file tests/test.sh"]),
    (
        "bad-memory",
        _replace("task.toml", 'memory = "4G"', 'memory = "lots"'),
        ["'lots' is not a size"],
    ),
    (
        "bad-cpus",
        _replace("task.toml", "cpus = 2", "cpus = -1"),
        ["environment.cpus must be a positive number"],
    ),
]


@pytest.mark.parametrize(
    ("fmt", "case", "breaker", "messages"),
    [("tb", *c) for c in TB_BROKEN] + [("harbor", *c) for c in HARBOR_BROKEN],
    ids=[f"tb-{c[0]}" for c in TB_BROKEN] + [f"harbor-{c[0]}" for c in HARBOR_BROKEN],
)
def test_broken_task_files_raise_clear_task_errors(
    tmp_path: Path, fmt: str, case: str, breaker: Callable[[Path], None], messages: list[str]
) -> None:
    path = write_tb_task(tmp_path) if fmt == "tb" else write_harbor_task(tmp_path)
    breaker(path)
    suite = TaskFolderSuite(tmp_path)
    assert suite.task_ids() == [path.name]  # listing works; the broken file fails at load
    with pytest.raises(TaskError) as err:
        suite.load(path.name)
    for message in messages:
        assert message in str(err.value)
    assert str(path) in str(err.value)  # says which file to fix


UNKNOWN_KEYS = [
    (
        "tb",
        _replace("task.yaml", "max_agent_timeout_sec", "max_agent_timout_sec"),
        "unknown key 'max_agent_timout_sec'. Did you mean 'max_agent_timeout_sec'?",
    ),
    (
        "harbor",
        _replace("task.toml", "[agent]\ntimeout_sec", "[agent]\ntimeout_secs"),
        "[agent]: unknown key 'timeout_secs'. Did you mean 'timeout_sec'?",
    ),
    (
        "harbor",
        _replace("task.toml", "[environment]", "[enviroment]\nx = 1\n[environment]"),
        "unknown key 'enviroment'. Did you mean 'environment'?",
    ),
    (
        "harbor",
        _edit("task.toml", 'schema_version = "9.0"\nnew_top = 1\n[agent]\nnew_key = true\n'),
        "[agent]: unknown key 'new_key'.",
    ),
]


@pytest.mark.parametrize(("fmt", "breaker", "warning"), UNKNOWN_KEYS)
def test_unknown_keys_warn_by_default_and_fail_when_strict(
    tmp_path: Path, fmt: str, breaker: Callable[[Path], None], warning: str
) -> None:
    """Forward compatible: a key from a newer format version is a warning (listed per task in
    `metadata["warnings"]`), not an error; `strict=True` makes it one TaskError."""
    path = write_tb_task(tmp_path) if fmt == "tb" else write_harbor_task(tmp_path)
    breaker(path)
    task = TaskFolderSuite(tmp_path).load(path.name)
    assert warning in task.metadata["warnings"]
    with pytest.raises(TaskError) as err:
        TaskFolderSuite(tmp_path, strict=True).load(path.name)
    assert warning in str(err.value) and "--strict" in str(err.value)


def test_suite_level_errors(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="Did you mean 'sokoban-solver'"):
        tb_mini(task_ids=["sokoban-solvr"])
    with pytest.raises(TaskError, match="Did you mean 'sokoban-solver'"):
        tb_mini().load("sokoban")
    with pytest.raises(TaskError, match="no such folder"):
        TerminalBenchSuite(tmp_path / "nowhere")
    with pytest.raises(TaskError, match="no task folders"):
        HarborSuite(tmp_path)
    harbor = write_harbor_task(tmp_path)
    with pytest.raises(TaskError, match="load it with HarborSuite"):
        TerminalBenchSuite(harbor)
    (tmp_path / "tasks").mkdir()
    shutil.move(str(harbor), tmp_path / "tasks")
    assert HarborSuite(tmp_path).task_ids() == ["hello-harbor"]  # the Terminal-Bench repo layout
    single = write_tb_task(tmp_path / "single")
    assert TerminalBenchSuite(single).task_ids() == ["hello-tb"]


def test_registered_suite_names_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tb_task(tmp_path)
    write_harbor_task(tmp_path)
    assert resolve_suite("terminal-bench", dataset=str(tmp_path)).task_ids() == ["hello-tb"]
    assert resolve_suite("harbor", dataset=str(tmp_path)).task_ids() == ["hello-harbor"]
    assert resolve_suite("tb-mini").task_ids() == IDS
    monkeypatch.delenv("ALE_HARBOR_PATH", raising=False)
    with pytest.raises(EnvError, match="ALE_HARBOR_PATH"):
        resolve_suite("harbor")
    monkeypatch.setenv("ALE_TERMINAL_BENCH_PATH", str(tmp_path))
    assert resolve_suite("terminal-bench").task_ids() == ["hello-tb"]


# ----------------------------------------------------------------------------- FROM rewriting


def test_from_map_defaults_merges_and_reports(tmp_path: Path) -> None:
    assert base_map(None) == DEFAULT_BASE_MAP and "*" not in DEFAULT_BASE_MAP
    assert base_map({"python:3.11-slim-bookworm": "py:local"}) == {
        **DEFAULT_BASE_MAP,
        "python:3.11-slim-bookworm": "py:local",
    }
    assert base_map({k: "" for k in DEFAULT_BASE_MAP}) == {}
    path = write_harbor_task(tmp_path)
    default = HarborSuite(path).load("hello-harbor")
    assert default.substitutions == {
        "python:3.11-slim-bookworm": STANDINS["python:3.11-slim"].tag
    }  # the stand-in (a glob of the default map); stage `base` kept
    mapped = HarborSuite(path, base_image_map={"python:3.11-slim-bookworm": "py:local"}).load(
        "hello-harbor"
    )
    assert mapped.metadata["from_substitutions"] == {"python:3.11-slim-bookworm": "py:local"}
    assert mapped.metadata["base_images"] == ["python:3.11-slim-bookworm"]
    assert mapped.image != default.image  # one image per FROM map
    untouched = HarborSuite(path, base_image_map={"python:3.11*": ""}).load("hello-harbor")
    assert untouched.metadata["from_substitutions"] == {}
    assert image_tag(default.config, default.from_map).startswith("ale-tb/hello-harbor:")


# ----------------------------------------------------------------------------- parsers, rewards

PYTEST_LOG = """\
tests/test_outputs.py::test_a PASSED
=========================== short test summary info ============================
PASSED tests/test_outputs.py::test_a
PASSED tests/test_outputs.py::test_p[x-1]
FAILED tests/test_outputs.py::TestK::test_b - AssertionError: assert 1 == 2
ERROR tests/test_outputs.py::test_c - FileNotFoundError: /app/out
SKIPPED [1] tests/test_outputs.py:9: no gpu
XFAIL tests/test_outputs.py::test_d - known
==================== 1 failed, 2 passed, 1 error in 0.12s =====================
PASSED not/part/of::the_summary
"""


def test_pytest_parser_reads_the_short_summary() -> None:
    from envs.suites.terminal_bench.parsers import resolved

    tests = parse_pytest(PYTEST_LOG)
    assert tests == {
        "test_a": "PASSED",
        "test_p[x-1]": "PASSED",
        "TestK::test_b": "FAILED",
        "test_c": "ERROR",
        "test_d": "XFAIL",
    }
    assert not resolved(tests)
    assert resolved({"test_a": "PASSED", "test_d": "XFAIL", "x": "SKIPPED"})
    assert not resolved({}) and resolved({"x": "SKIPPED"})  # Terminal-Bench: skipped passes
    assert parse_pytest("collected 0 items\nImportError\n") == {}


@pytest.mark.parametrize(
    ("json_text", "txt", "reward", "problem"),
    [
        (None, "1\n", 1.0, None),
        (None, "0.25", 0.25, None),
        ('{"reward": 0.5, "acc": 0.9, "note": "x"}', None, 0.5, None),
        ('{"acc": 0.75}', None, 0.75, None),
        ('{"acc": 0.75, "f1": 0.5}', "1", 1.0, None),
        ('{"acc": 0.75, "f1": 0.5}', None, 0.0, "no `reward` key"),
        ("[1]", None, 0.0, "not a JSON object"),
        (None, "passed", 0.0, "not a number"),
        (None, None, 0.0, "wrote no /logs/verifier/reward.txt"),
    ],
)
def test_harbor_reward_files(
    json_text: str | None, txt: str | None, reward: float, problem: str | None
) -> None:
    got, rewards, why = read_reward(json_text, txt)
    assert got == reward
    assert (why is None) if problem is None else (problem in (why or ""))
    if json_text and reward and problem is None:
        assert "note" not in rewards


# ----------------------------------------------------------------------------- Docker


def _docker_ready() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    probe = subprocess.run(
        ["docker", "image", "inspect", DEFAULT_IMAGE], capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        return f"{DEFAULT_IMAGE} missing or engine down (run `ale images build`): {probe.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def docker() -> None:
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)


def bash(command: str) -> str:
    if "</parameter>" in command:
        command = encoded_command(command)
    return render_call("bash", {"command": command}, "xml")


SUBMIT = render_call("submit", {}, "xml")
#: Everything hidden material could leave behind, searched for during the episode.
LEAK_PROBE = (
    "find /tests /oracle /solution /logs/verifier -type f 2>/dev/null; "
    "find / -xdev \\( -name test_outputs.py -o -name run-tests.sh -o -name solution.sh "
    "-o -name solve.sh -o -name expected_\\* \\) -not -path '/proc/*' 2>/dev/null; "
    "grep -rlF -e {needle} $(ls -d /* | grep -vx -e /proc -e /sys -e /dev -e /usr) /usr/local "
    "2>/dev/null; "
    "echo probe-done"
)


def _needle(task_id: str) -> str:
    """A line of the task's hidden test file that nothing else contains."""
    text = (TB_MINI_TASKS / task_id / "tests" / "test_outputs.py").read_text()
    name = next(line for line in text.splitlines() if line.startswith("def test_"))
    return "'" + name.split("(")[0] + "('"


def make_env(**kwargs: Any) -> ChunkEnv:
    env = gymnasium.make("ale/TBMini-v0", backend="docker", max_turns=20, **kwargs).unwrapped
    assert isinstance(env, ChunkEnv)
    return env


def run_task(task_id: str) -> dict[str, Any]:
    """Oracle episode (after a leak probe) and an empty episode of one task, in one env."""
    env = make_env()
    try:
        out: dict[str, Any] = {"task_id": task_id}
        _, info = env.reset(options={"task_id": task_id})
        out["substitutions"] = info["metadata"]["from_substitutions"]
        out["probe"] = env.step(bash(LEAK_PROBE.format(needle=_needle(task_id))))[0].strip()
        task = env.task
        assert isinstance(task, FolderTask)
        for command in task.oracle_actions():
            _, _, term, trunc, info = env.step(bash(command))
            assert not term and not trunc
            out.setdefault("oracle_exit", []).append(info["exit_code"])
        _, out["oracle_reward"], term, _, info = env.step(SUBMIT)
        assert term
        out["oracle_grade"] = info["grade"]
        assert env.sandbox is not None
        # graded in this container: now the same probe finds the tests (so it can find leaks)
        out["probe_after"] = env.sandbox.run(
            LEAK_PROBE.format(needle=_needle(task_id)), timeout=120
        ).output
        env.reset(options={"task_id": task_id})
        _, out["empty_reward"], term, _, info = env.step(SUBMIT)
        out["empty_grade"] = info["grade"]
        return out
    finally:
        env.close()


def _run_all_tasks() -> dict[str, dict[str, Any]]:
    def safe(task_id: str) -> dict[str, Any]:
        try:
            return run_task(task_id)
        except BaseException as exc:  # reported by the tests, per task
            return {"exception": f"{type(exc).__name__}: {exc}"}

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="tb-mini") as pool:
        return dict(zip(IDS, pool.map(safe, IDS), strict=True))


@pytest.fixture(scope="session")
def tb_mini_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """An oracle and an empty episode of every tb-mini task, run once per pytest session
    (shared by all xdist workers through a file-locked cache); a task whose episodes raised
    maps to {"exception": ...}."""
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    return once_per_session(tmp_path_factory, "tb_mini_runs", _run_all_tasks)


@pytest.mark.docker
def test_every_tb_mini_oracle_gives_1_and_doing_nothing_gives_0(
    tb_mini_runs: dict[str, Any],
) -> None:
    bad = []
    for task_id, run in tb_mini_runs.items():
        if "exception" in run:
            bad.append(f"{task_id}: {run['exception']}")
            continue
        grade = run["oracle_grade"]
        if run["oracle_reward"] != 1.0 or not grade["resolved"] or grade["error"]:
            bad.append(
                f"{task_id}: oracle reward {run['oracle_reward']} exit {run['oracle_exit']} "
                f"{grade['report']} {grade['tests']}"
            )
        if (
            run["empty_reward"] != 0.0
            or run["empty_grade"]["resolved"]
            or run["empty_grade"]["error"]
        ):
            bad.append(
                f"{task_id}: empty reward {run['empty_reward']} {run['empty_grade']['report']}"
            )
        if grade["tests"] and not all(s == "PASSED" for s in grade["tests"].values()):
            bad.append(f"{task_id}: per-test breakdown {grade['tests']}")
    assert not bad, "\n".join(bad)
    for task_id, run in tb_mini_runs.items():  # per-test breakdown from the pytest summary
        assert len(run["oracle_grade"]["tests"]) >= 2, task_id
        assert any(s != "PASSED" for s in run["empty_grade"]["tests"].values()), task_id
        assert run["substitutions"], task_id


@pytest.mark.docker
def test_tests_are_not_readable_during_the_episode(tb_mini_runs: dict[str, Any]) -> None:
    for task_id, run in tb_mini_runs.items():
        if "exception" in run:
            pytest.fail(f"{task_id}: {run['exception']}")
        assert run["probe"] == "probe-done", f"{task_id} leaks: {run['probe']}"
        assert "/tests/test_outputs.py\n" in run["probe_after"], f"{task_id}: {run['probe_after']}"
        assert run["probe_after"].count("/tests/test_outputs.py") >= 2, (
            task_id
        )  # by name and by content


@pytest.mark.docker
def test_planted_results_do_not_fool_the_graders(docker: None) -> None:
    """Pre-written reward files and a fake /tests are wiped before grading."""
    env = make_env()
    try:
        env.reset(options={"task_id": "crack-leaked-hashes"})
        env.step(
            bash(
                "mkdir -p /logs/verifier /tests && echo 1 > /logs/verifier/reward.txt && "
                "printf '#!/bin/bash\\necho 1 > /logs/verifier/reward.txt\\n' > /tests/test.sh"
            )
        )
        _, reward, _, _, info = env.step(SUBMIT)
        assert reward == 0.0 and info["grade"]["report"]["rewards"] == {"reward": 0.0}
        env.reset(options={"task_id": "seir-rk4-simulator"})
        env.step(
            bash(
                "mkdir -p /tests && printf 'def test_ok():\\n    pass\\n' > /tests/test_outputs.py"
            )
        )
        _, reward, _, _, info = env.step(SUBMIT)
        assert reward == 0.0 and "test_ok" not in info["grade"]["tests"]
    finally:
        env.close()


@pytest.mark.docker
def test_apply_oracle_and_grade_directly(docker: None) -> None:
    """The `Task` protocol path (no env): apply_oracle in a side shell, then grade; Harbor's
    artifacts come back with the grade (`Grade.files`)."""
    from envs.rock.factory import create_sandbox

    suite = tb_mini(
        task_ids=["calendar-free-slots-bugs", "semver-range-matcher", "report-job-service-account"]
    )
    for task_id in suite.task_ids():
        task = suite.load(task_id)
        task.ensure_image("docker")
        sb = create_sandbox(task.sandbox_spec(), "docker")
        try:
            task.prepare(sb)
            task.apply_oracle(sb)
            grade = task.grade(sb)
            assert grade.reward == 1.0 and grade.resolved and grade.error is None, grade.log[-2000:]
            if task_id == "report-job-service-account":
                assert set(grade.files) == {"srv/reports/out/summary.txt", "job/run.log"}
                assert grade.files["job/run.log"] == b"report ok EUR\n"
                assert b"| north    |      169.15 |" in grade.files["srv/reports/out/summary.txt"]
                assert [a["status"] for a in grade.report["artifacts"]] == ["collected"] * 2
                oracle_log = sb.run("cat /logs/agent/oracle.txt; stat -c %U /logs/agent/oracle.txt")
                assert oracle_log.output.strip() == "reporter"  # solve.sh ran as agent.user
        finally:
            sb.close()


@pytest.fixture()
def test_images() -> str:
    """An image prefix of this test's own: the tags it builds (and removes) are never another
    test's or another concurrent session's."""
    return f"ale-tb-test-{secrets.token_hex(4)}"


@pytest.mark.docker
def test_synthetic_tasks_same_shell_and_fractional_reward(
    docker: None, tmp_path: Path, test_images: str
) -> None:
    """run_tests_in_same_shell sees the agent's exports; Harbor's reward.json gives 0.5."""
    write_tb_task(tmp_path, "same-shell", same_shell=True)
    write_tb_task(tmp_path, "own-shell", same_shell=False)
    write_harbor_task(tmp_path)
    suite = TaskFolderSuite(tmp_path, base_image_map=ON_ALE_BASE, image_prefix=test_images)
    env = ChunkEnv(suite, backend="docker")
    try:
        rewards = {}
        for task_id in ("same-shell", "own-shell"):
            env.reset(options={"task_id": task_id})
            env.step(bash("echo hello > /work/out.txt && export AGENT_MARK=1 WANT_MARK=1"))
            rewards[task_id] = env.step(SUBMIT)[1]
        assert rewards == {"same-shell": 1.0, "own-shell": 1.0}  # own shell: both marks unset
        env.reset(options={"task_id": "same-shell"})
        env.step(bash("echo hello > /work/out.txt && export AGENT_MARK=1"))
        _, reward, _, _, info = env.step(SUBMIT)
        assert reward == 0.0 and info["grade"]["tests"] == {
            "test_file": "PASSED",
            "test_marker": "FAILED",
        }
        env.reset(options={"task_id": "hello-harbor"})
        env.step(bash("echo almost > /srv/out.txt"))
        _, reward, _, _, info = env.step(SUBMIT)
        assert reward == 0.5 and not info["grade"]["resolved"]
        assert info["grade"]["report"]["rewards"] == {
            "reward": 0.5,
            "want_half": 1.0,
        }  # verifier env
        task = env.suite.load("hello-harbor")
        assert isinstance(task, FolderTask)
        env.reset(options={"task_id": "hello-harbor"})
        for command in task.oracle_actions():  # multi-file solution/ folder
            env.step(bash(command))
        assert env.step(SUBMIT)[1] == 1.0
    finally:
        env.close()
        for task_id in ("same-shell", "own-shell", "hello-harbor"):
            subprocess.run(
                ["docker", "rmi", "-f", env.suite.load(task_id).image],  # type: ignore[attr-defined]
                capture_output=True,
                timeout=120,
            )


@pytest.mark.docker
def test_image_build_failures_say_what_to_fix(
    docker: None, tmp_path: Path, test_images: str
) -> None:
    path = write_tb_task(tmp_path)
    (path / "Dockerfile").write_text(f"FROM {TB_BASE}\nRUN echo broken-step >&2 && false\n")
    with pytest.raises(TaskError, match="building its image") as err:
        suite = TerminalBenchSuite(path, base_image_map=ON_ALE_BASE, image_prefix=test_images)
        suite.load("hello-tb").ensure_image("docker")
    assert "broken-step" in str(err.value)
    (path / "Dockerfile").write_text(TB_DOCKERFILE)
    no_standin = {"ghcr.io/laude-institute/t-bench/python-3-13*": ""}
    task = TerminalBenchSuite(path, base_image_map=no_standin, image_prefix=test_images).load(
        "hello-tb"
    )
    with pytest.raises(TaskError, match=f"no stand-in for it.*--from {TB_BASE}=LOCAL_IMAGE"):
        task.ensure_image("docker")


def oracle_reward(task_id: str) -> float:
    """One oracle episode through the env; its reward."""
    env = make_env()
    try:
        env.reset(options={"task_id": task_id})
        assert isinstance(env.task, FolderTask)
        for command in env.task.oracle_actions():
            env.step(bash(command))
        return float(env.step(SUBMIT)[1])
    finally:
        env.close()


@pytest.mark.docker
@pytest.mark.slow
def test_every_tb_mini_oracle_is_stable_3_of_3(tb_mini_runs: dict[str, Any]) -> None:
    """Two more oracle episodes per task on top of the one above: 3 of 3 must score 1."""
    jobs = [task_id for task_id in IDS for _ in range(2)]
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="tb-mini-stable") as pool:
        rewards = list(pool.map(oracle_reward, jobs))
    first = {t: r.get("oracle_reward", 0.0) for t, r in tb_mini_runs.items()}
    flaky = {t: [first[t], *(r for j, r in zip(jobs, rewards, strict=True) if j == t)] for t in IDS}
    assert all(rs == [1.0, 1.0, 1.0] for rs in flaky.values()), {
        t: rs for t, rs in flaky.items() if rs != [1.0] * 3
    }


@pytest.mark.local
@pytest.mark.docker
@pytest.mark.parametrize("task_id", ["semver-range-matcher", "calendar-free-slots-bugs"])
def test_local_backend_runs_task_from_exported_rootfs(docker: None, task_id: str) -> None:
    """The daemon-less backend runs the task image's root filesystem (exported once from Docker)."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install bubblewrap)")
    env = gymnasium.make("ale/TBMini-v0", backend="local", task_ids=[task_id]).unwrapped
    try:
        env.reset(options={"task_id": task_id})
        for command in env.task.oracle_actions():
            assert env.step(bash(command))[4]["exit_code"] == 0
        assert env.step(SUBMIT)[1] == 1.0
        env.reset(options={"task_id": task_id})
        assert env.step(SUBMIT)[1] == 0.0
    finally:
        env.close()
