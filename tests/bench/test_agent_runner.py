"""AgentRunner's failure classes with real sandboxes: agent, infrastructure (retried), limits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.config import AgentConfig
from agents.errors import PolicyError
from agents.policies import PolicyOutput
from bench.cli.run_cmds import NO_ENDPOINT, resolve_policy
from bench.harness import run_bench
from bench.runners import AgentRunner
from bench.store import RunStore
from bench.tasks import BenchSuite
from envs.rock import SandboxSpec
from tests.bench.fixture_suites import NumberSuite, NumberTask


class Raising:
    name = "raising"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def start_episode(self, context: Any) -> None:
        pass

    def act(self, messages: list[dict[str, Any]], tools: Any = None) -> PolicyOutput:
        raise self.exc


class Babbling:
    name = "babbling"

    def start_episode(self, context: Any) -> None:
        pass

    def act(self, messages: list[dict[str, Any]], tools: Any = None) -> PolicyOutput:
        return PolicyOutput(text="I am thinking about it, no tool call yet.")


class MissingImageTask(NumberTask):
    def sandbox_spec(self) -> SandboxSpec:
        return replace(super().sandbox_spec(), image="ale-test/no-such-image:never")


def run(tmp_path: Path, policy: Any, suite: Any, overrides: list[str] | None = None) -> Any:
    agent = AgentConfig.load("terminal", overrides=overrides or [])
    runner = AgentRunner(
        BenchSuite(suite, {"ale.bench.run": "test-runner"}), agent, lambda: policy, backend="docker"
    )
    store = RunStore(tmp_path)
    try:
        run_bench(
            store,
            suite.task_ids()[:1],
            runner,
            "m",
            workers=1,
            max_infra_retries=2,
            show_progress=False,
            collect_orphans=False,
        )
    finally:
        runner.close()
    (result,) = store.results()
    return result, store


@pytest.mark.docker
def test_policy_exception_is_an_agent_error(tmp_path: Path) -> None:
    result, store = run(tmp_path, Raising(PolicyError("the reply had no choices")), NumberSuite(1))
    assert result.status == "agent_error" and "no choices" in (result.error or "")
    assert result.infra_retries == 0
    assert "no choices" in store.log_path("number-00", 0, "agent").read_text()


@pytest.mark.docker
def test_endpoint_outage_is_infra_and_retried(tmp_path: Path) -> None:
    try:
        raise ConnectionRefusedError("the model endpoint refused the connection")
    except ConnectionRefusedError as cause:
        exc = PolicyError("openai: giving up after 3 tries")
        exc.__cause__ = cause
    result, _ = run(tmp_path, Raising(exc), NumberSuite(1))
    assert result.status == "infra_error" and result.infra_retries == 2


@pytest.mark.docker
def test_sandbox_that_cannot_start_is_infra_and_retried(tmp_path: Path) -> None:
    suite = NumberSuite(1)
    suite.tasks = {"number-00": MissingImageTask("number-00", "3", "even")}
    result, _ = run(tmp_path, Babbling(), suite)
    assert result.status == "infra_error" and result.infra_retries == 2
    assert "no-such-image" in (result.error or "")


@pytest.mark.docker
def test_format_errors_until_the_turn_limit_are_graded_unresolved(tmp_path: Path) -> None:
    result, store = run(tmp_path, Babbling(), NumberSuite(1), ["limits.max_turns=2"])
    assert result.status == "unresolved" and result.turns == 3  # 2 turns + the forced submit
    assert store.trajectory_path("number-00", 0).exists()


def test_auto_policy_says_what_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    assert resolve_policy("auto") == ("oracle", NO_ENDPOINT)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    spec, note = resolve_policy("auto")
    assert spec == "oracle" and "OPENAI_MODEL" in (note or "")
    monkeypatch.setenv("OPENAI_MODEL", "qwen")
    assert resolve_policy("auto")[0] == "openai:qwen@http://127.0.0.1:9/v1"
    assert resolve_policy("empty") == ("empty", None)


class Hostile:
    """Checks its cwd, then breaks its shell for git before answering."""

    name = "hostile"

    def __init__(self) -> None:
        self.turns = iter(
            [
                "pwd",
                "alias git=false; git() { return 1; }; export GIT_DIR=/nope GIT_WORK_TREE=/; "
                "cd / && echo 3 > /work/answer.txt",
                "submit",
            ]
        )

    def start_episode(self, context: Any) -> None:
        pass

    def act(self, messages: list[dict[str, Any]], tools: Any = None) -> PolicyOutput:
        return PolicyOutput(text=f"```bash\n{next(self.turns)}\n```")


@pytest.mark.docker
def test_workdir_diff_survives_what_the_agent_did_to_its_shell(tmp_path: Path) -> None:
    result, store = run(tmp_path, Hostile(), NumberSuite(1))
    assert result.status == "resolved"
    assert "+++ b/answer.txt" in (result.model_patch or "") and "+3" in (result.model_patch or "")
    log = store.log_path("number-00", 0, "agent").read_text()
    assert "--- observation\n/work\n" in log  # the baseline snapshot did not move the agent's shell
