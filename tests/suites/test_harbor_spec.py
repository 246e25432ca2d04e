"""The published task formats key by key: Harbor's task.toml (schema 1.4 and older), its
docker-compose.yaml, Terminal-Bench's task.yaml and parsers, FROM maps and stand-ins.

Each test is named in the spec table of docs/environments.md. Docker tests build only on
`ale-base:bookworm` (the base CI builds).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from envs.core.errors import TaskError
from envs.rock import DEFAULT_IMAGE
from envs.rock.image_build import inject_build_ca, map_image, rewrite_from
from envs.rock.standins import STANDIN_MAP, STANDINS, build_standin, find_standin
from envs.suites.terminal_bench import PARSERS, TaskFolderSuite, load_task_config
from envs.suites.terminal_bench.compose import duration_s, interpolate, load_compose
from envs.suites.terminal_bench.task_image import parse_from_map
from tests.suites.test_terminal_bench_suite import _docker_ready

CURRENT = """\
schema_version = "1.4"
source = "terminal-bench-2"
artifacts = ["/app/out", { source = "/var/log/x.log", destination = "logs/x.log", exclude = ["*.tmp"] }]

[task]
name = "acme/widget"
description = "Fix the widget."
authors = [{ name = "Ada", email = "ada@example.com" }]
keywords = ["widgets"]

[metadata]
difficulty = "hard"
category = "debugging"
anything = { nested = [1, 2] }

[agent]
timeout_sec = 900.0
user = "dev"
network_mode = "no-network"

[verifier]
timeout_sec = 300.0
user = 0
environment_mode = "shared"
env = { MODE = "strict", HOME_DIR = "${ALE_SPEC_TEST_HOME:-/home/dev}" }

[[verifier.collect]]
command = "cp /var/log/x.log /app/out/"

[solution]
env = { FAST = "1" }

[environment]
build_timeout_sec = 1200.0
docker_image = "acme/widget:1.0"
os = "Linux"
cpus = 2
memory_mb = 4096
storage_mb = 8192
gpus = 0
network_mode = "allowlist"
allowed_hosts = ["pypi.org"]
skills_dir = "/skills"
workdir = "/work/widget"
env = { WIDGET_MODE = "test" }

[environment.healthcheck]
command = "test -f /ready"
retries = 5
"""
OLDER = """\
version = "1.0"

[metadata]
author_name = "Ada"
difficulty = "easy"
category = "games"
tags = ["x"]

[verifier]
timeout_sec = 60.0

[agent]
timeout_sec = 120.0

[environment]
build_timeout_sec = 600.0
cpus = 1
memory = "512M"
storage = "10G"
allow_internet = true
"""


def harbor_task(root: Path, toml: str, dockerfile: str | None = "FROM python:3.11-slim\n") -> Path:
    path = root / "widget"
    for sub in ("environment", "tests", "solution"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    (path / "task.toml").write_text(toml)
    (path / "instruction.md").write_text("Fix the widget.\n")
    if dockerfile is not None:
        (path / "environment" / "Dockerfile").write_text(dockerfile)
    (path / "tests" / "test.sh").write_text("echo 1 > /logs/verifier/reward.txt\n")
    (path / "solution" / "solve.sh").write_text("true\n")
    return path


def test_current_schema_every_key(tmp_path: Path) -> None:
    """schema 1.4: every table and key of Harbor's TaskConfig lands where ALE-Gym uses it."""
    c = load_task_config(harbor_task(tmp_path, CURRENT), strict=True)
    assert c.warnings == ()
    assert (
        c.metadata["harbor_schema_version"] == "1.4" and c.metadata["source"] == "terminal-bench-2"
    )
    assert c.metadata["task"]["name"] == "acme/widget" and c.metadata["anything"]["nested"] == [
        1,
        2,
    ]
    assert c.metadata["skills_dir"] == "/skills"
    assert (c.agent_timeout_s, c.test_timeout_s, c.build_timeout_s) == (900.0, 300.0, 1200.0)
    assert (c.agent_user, c.verifier_user, c.workdir) == ("dev", "0", "/work/widget")
    assert c.verifier_env == {"MODE": "strict", "HOME_DIR": "/home/dev"}  # ${VAR:-default}
    assert c.solution_env == {"FAST": "1"} and c.env == {"WIDGET_MODE": "test"}
    assert (c.cpus, c.memory_mb, c.storage_mb) == (2.0, 4096, 8192)
    assert (c.network, c.allowed_hosts) == ("allowlist", ("pypi.org",))
    assert c.docker_image == "acme/widget:1.0" and c.dockerfile == "Dockerfile"
    assert c.healthcheck is not None and (c.healthcheck.command, c.healthcheck.retries) == (
        "test -f /ready",
        5,
    )
    assert [(a.source, a.destination, a.exclude) for a in c.artifacts] == [
        ("/app/out", None, []),
        ("/var/log/x.log", "logs/x.log", ["*.tmp"]),
    ]
    assert [h.command for h in c.collect] == ["cp /var/log/x.log /app/out/"]


def test_older_schema_without_schema_version(tmp_path: Path) -> None:
    """`version`, `memory` / `storage` strings and `allow_internet` (schema < 1.2)."""
    c = load_task_config(harbor_task(tmp_path, OLDER), strict=True)
    assert c.metadata["harbor_schema_version"] == "1.0"
    assert (c.memory_mb, c.storage_mb, c.network) == (512, 10240, "public")
    assert c.agent_user is None and c.verifier_user is None and c.workdir is None


def test_prebuilt_docker_image_without_a_dockerfile(tmp_path: Path) -> None:
    c = load_task_config(harbor_task(tmp_path, CURRENT, dockerfile=None))
    assert c.dockerfile is None and c.dockerfile_text == "FROM acme/widget:1.0\n"
    suite = TaskFolderSuite(tmp_path, base_image_map={"acme/widget:1.0": DEFAULT_IMAGE})
    assert suite.load("widget").substitutions == {"acme/widget:1.0": DEFAULT_IMAGE}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ('[[steps]]\nname = "a"\n', "multi-step"),
        ('[environment.tpu]\ntype = "v6e"\ntopology = "2x2"\n', "no TPUs"),
        ('[[verifier.collect]]\ncommand = "x"\nservice = "db"\n', "no environment/docker-compose"),
    ],
)
def test_keys_we_cannot_honour_are_task_errors(tmp_path: Path, edit: str, message: str) -> None:
    path = harbor_task(tmp_path, OLDER + edit)
    with pytest.raises(TaskError, match=message) as err:
        TaskFolderSuite(tmp_path).load(path.name)
    assert "\n" not in str(err.value)  # one line


def test_harbor_compose_main_and_sidecars(tmp_path: Path) -> None:
    env = tmp_path / "environment"
    (env / "db").mkdir(parents=True)
    (env / "docker-compose.yaml").write_text(
        "services:\n"
        "  main:\n    environment: {DB_URL: 'http://db:5000', TEST_DIR: '${TEST_DIR}'}\n"
        "    depends_on: [db]\n    ports: ['8080:8080']\n    mystery: 1\n"
        "  db:\n    build: {context: ./db, args: {V: '2'}}\n    command: serve --port 5000\n"
        "    healthcheck: {test: 'curl -f localhost:5000', interval: 1m30s, retries: 2}\n"
    )
    compose = load_compose(env / "docker-compose.yaml", "harbor")
    assert compose.main.build_context == env and compose.main.environment == {
        "DB_URL": "http://db:5000",
        "TEST_DIR": "/tests",
    }
    (db,) = compose.sidecars
    assert (db.name, db.build_context, db.build_args) == ("db", env / "db", {"V": "2"})
    assert db.command == ["/bin/sh", "-c", "serve --port 5000"]
    assert db.healthcheck is not None and db.healthcheck.interval_s == 90.0
    assert db.healthcheck.test == ["CMD-SHELL", "curl -f localhost:5000"]
    assert compose.warnings == ("docker-compose.yaml: service 'main': unknown key 'mystery'",)


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("  db:\n    image: postgres\n    privileged: true\n", "privileged"),
        ("  db:\n    image: postgres\n    volumes: ['data:/var/lib/pg']\n", "volumes"),
        ("  db:\n    command: x\n", "neither build nor image"),
    ],
)
def test_compose_keys_we_cannot_honour(tmp_path: Path, service: str, message: str) -> None:
    (tmp_path / "docker-compose.yaml").write_text(f"services:\n  client:\n    build: .\n{service}")
    with pytest.raises(TaskError, match=message):
        load_compose(tmp_path / "docker-compose.yaml", "terminal-bench")


def test_terminal_bench_compose_variables() -> None:
    assert interpolate("${T_BENCH_TEST_DIR}", {"T_BENCH_TEST_DIR": "/tests"}) == "/tests"
    assert interpolate("${UNSET_X:-dflt} $$HOME", {}) == "dflt $HOME"
    assert duration_s("500ms") == 0.5 and duration_s(3) == 3.0


@pytest.mark.parametrize(
    ("parser", "log", "tests"),
    [
        (
            "swebench",
            "x\nSWEBench results starts here\nPASSED\nSWEBench results ends here",
            {"tests": "PASSED"},
        ),
        (
            "swebench",
            "SWEBench results starts here\nFAILED\nSWEBench results ends here",
            {"tests": "FAILED"},
        ),
        ("swebench", "the server could not clone", {}),
        (
            "sweperf",
            "SWE-Perf results starts here\nPASSED\nSWE-Perf results ends here",
            {"tests": "PASSED"},
        ),
        (
            "mlebench",
            "MLEBench results starts here\nALL TESTS PASSED\nMLEBench results ends here",
            {"tests": "PASSED"},
        ),
        (
            "mlebench",
            "MLEBench results starts here\n3 failed\nMLEBench results ends here",
            {"tests": "FAILED"},
        ),
        ("swelancer", "... SWE Lancer Success ...", {"swelancer_task": "PASSED"}),
        ("swelancer", "swe lancer failure; user_tool completed", {"swelancer_task": "FAILED"}),
        (
            "pytest",
            "== short test summary info ==\nPASSED t.py::a\nSKIPPED t.py::b\n",
            {"a": "PASSED", "b": "SKIPPED"},
        ),
    ],
)
def test_terminal_bench_parsers(parser: str, log: str, tests: dict[str, str]) -> None:
    """The five parsers of Terminal-Bench, with its verdicts."""
    assert PARSERS[parser](log) == tests


def test_from_map_globs_and_files(tmp_path: Path) -> None:
    assert map_image("python:3.13-slim-bookworm", STANDIN_MAP) == STANDINS["python:3.13-slim"].tag
    assert map_image("python:3.11", {"python:3.11*": "a", "python:3*": "b", "*": "c"}) == "a"
    assert map_image("node:20", {"python:*": "a"}) is None
    text, changed = rewrite_from("FROM ubuntu:24.04 AS b\nFROM b\n", STANDIN_MAP)
    assert changed == {"ubuntu:24.04": STANDINS["ubuntu:24.04"].tag} and "FROM b\n" in text
    (tmp_path / "m.yaml").write_text("python:3.13-slim: my/py:3.13\nubuntu:24.04: ''\n")
    assert parse_from_map(["x=y"], tmp_path / "m.yaml") == {
        "python:3.13-slim": "my/py:3.13",
        "ubuntu:24.04": "",
        "x": "y",
    }
    (tmp_path / "m.txt").write_text("# comment\na:1=b:2\n")
    assert parse_from_map(None, tmp_path / "m.txt") == {"a:1": "b:2"}
    with pytest.raises(ValueError, match="IMAGE=LOCAL_IMAGE"):
        parse_from_map(["python:3.13-slim"])
    with pytest.raises(Exception, match="--from debian:sid=IMAGE"):
        find_standin("debian:sid")


def test_build_ca_is_injected_into_every_stage_not_the_task(tmp_path: Path) -> None:
    ca = tmp_path / "extra.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n")
    text = inject_build_ca("FROM a AS one\nRUN x\nFROM scratch\nFROM one\n", tmp_path, ca)
    lines = text.splitlines()
    assert lines[1].startswith("COPY .ale-build/ ") and lines[2].startswith("ARG SSL_CERT_FILE=")
    assert "PIP_CERT=" in lines[2] and "APT_CONFIG=" in lines[2]
    assert lines[4] == "FROM scratch" and lines[5] == "FROM one" and lines[6].startswith("COPY")
    assert "MIIBfake" in (tmp_path / ".ale-build" / "ca-bundle.pem").read_text()


@pytest.mark.docker
@pytest.mark.parametrize("base", ["debian:bookworm", "python:3.11-slim"])
def test_standins_keep_what_tasks_rely_on(base: str) -> None:
    """pip installs system-wide (no PEP 668 error), `python`/`pip` on PATH, WORKDIR /."""
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    tag = build_standin(STANDINS[base], network=False)
    probe = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", tag, "sh", "-c",
            "pwd; command -v python; command -v pip; "
            "pip install --no-index /nonexistent 2>&1 | grep -c externally-managed",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = probe.stdout.split()
    assert lines[0] == "/" and lines[-1] == "0", probe.stdout + probe.stderr
    assert any(p.endswith("/python") for p in lines) and any(p.endswith("/pip") for p in lines)


@pytest.mark.docker
def test_failing_healthcheck_is_a_task_error(tmp_path: Path) -> None:
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    from envs.rock.factory import create_sandbox

    toml = (
        OLDER + '\n[environment.healthcheck]\ncommand = "exit 3"\ninterval_sec = 0.1\nretries = 2\n'
    )
    harbor_task(tmp_path, toml, dockerfile="FROM debian:bookworm\n")
    task = TaskFolderSuite(tmp_path, image_prefix="ale-tb-test").load("widget")
    task.ensure_image("docker")
    sb = create_sandbox(task.sandbox_spec(), "docker")
    try:
        with pytest.raises(TaskError, match="healthcheck.*failed 2 times"):
            task.prepare(sb)
    finally:
        sb.close()


@pytest.mark.docker
def test_timeouts_from_the_task_file(tmp_path: Path) -> None:
    """[agent] timeout_sec bounds the episode (commands are cut at what is left);
    [verifier] timeout_sec bounds test.sh: reward 0, `timed_out` in the report."""
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    from envs.core.env import ChunkEnv
    from tests.suites.test_terminal_bench_suite import bash

    toml = OLDER.replace("timeout_sec = 120.0", "timeout_sec = 3.0").replace(
        "timeout_sec = 60.0", "timeout_sec = 2.0"
    )
    path = harbor_task(tmp_path, toml, dockerfile="FROM debian:bookworm\n")
    (path / "tests" / "test.sh").write_text("sleep 30; echo 1 > /logs/verifier/reward.txt\n")
    env = ChunkEnv(TaskFolderSuite(tmp_path, image_prefix="ale-tb-test"), backend="docker")
    try:
        _, info = env.reset(options={"task_id": "widget"})
        assert info["limits"]["max_wall_s"] == 3.0
        _, reward, term, trunc, info = env.step(bash("sleep 20"))
        assert info["timed_out"] and trunc and not term and info["truncation"] == "max_wall_s"
        assert info["duration_s"] < 15 and reward == 0.0
        report = info["grade"]["report"]
        assert report["timed_out"] and "timed out after 2 s" in report["verifier_problem"]
        assert report["test_timeout_s"] == 2.0  # the limit, for the test_timeout status
    finally:
        env.close()


def test_bad_from_flag_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bench.cli.main import app

    harbor_task(tmp_path, OLDER)
    result = CliRunner().invoke(app, ["bench", "run", "--suite", str(tmp_path), "--from", "nope"])
    assert result.exit_code == 2 and "expected IMAGE=LOCAL_IMAGE" in result.output
    assert "Traceback" not in result.output


@pytest.mark.docker
def test_bench_run_warns_per_task_and_keeps_artifacts(tmp_path: Path) -> None:
    """`ale bench run` on a published-format folder: unknown keys warn on the console, in
    task_warnings.json and report.md; artifacts land in the run folder."""
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    from typer.testing import CliRunner

    from bench.cli.main import app

    tasks = tmp_path / "tasks"
    toml = 'artifacts = ["/app/out.txt"]\nfuture_key = 1\n' + OLDER
    path = harbor_task(tasks, toml, dockerfile="FROM debian:bookworm\nWORKDIR /app\n")
    (path / "solution" / "solve.sh").write_text("echo done > /app/out.txt\n")
    (path / "tests" / "test.sh").write_text(
        "[ -f /app/out.txt ] && echo 1 > /logs/verifier/reward.txt || echo 0 > /logs/verifier/reward.txt\n"
    )
    run = tmp_path / "run"
    args = ["bench", "run", "--suite", str(tasks), "--policy", "oracle", "--run-dir", str(run)]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "warning: widget: unknown key 'future_key'." in result.output
    assert "resolved 1/1" in result.output
    assert json.loads((run / "task_warnings.json").read_text()) == {
        "widget": ["unknown key 'future_key'."]
    }
    assert "| widget | unknown key 'future_key'. |" in (run / "report.md").read_text()
    assert (run / "artifacts" / "widget__a0" / "app" / "out.txt").read_text() == "done\n"
