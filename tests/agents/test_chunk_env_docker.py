"""The loop on a real sandboxed ChunkEnv (docker): a scripted agent solves a task; limits submit."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import AgentConfig
from agents.loop import run_episode
from agents.policies.scripted import ScriptedPolicy
from agents.trajectory import load_trajectory
from tests.envs.conftest import AnswerSuite

pytestmark = pytest.mark.docker

WRITE = "I will write it.\n<function=bash>\n<parameter=command>\necho 42 > /work/answer.txt\n</parameter>\n</function>"
SUBMIT = "<function=submit>\n</function>"


@pytest.fixture
def env():  # type: ignore[no-untyped-def]
    import docker

    try:
        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no docker daemon: {exc}")
    from envs.core.env import ChunkEnv

    e = ChunkEnv(suite=AnswerSuite(), backend="docker", action_format="xml", max_turns=10)
    yield e
    e.close()


def test_scripted_swe_agent_solves_answer_task(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agent = AgentConfig.load("swe")
    rec = run_episode(
        env, agent, ScriptedPolicy([WRITE, SUBMIT]), "six-by-seven", tmp_path / "t.jsonl"
    )
    assert rec.reward == 1.0 and rec.terminated and rec.grade and rec.grade["resolved"]
    loaded = load_trajectory(tmp_path / "t.jsonl")
    assert loaded.finished and [c.tool for c in loaded.chunks] == ["bash", "submit"]
    assert "<issue>" in loaded.chunks[0].messages[1]["content"]  # the swe instance template


def test_turn_limit_forces_a_graded_submit(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agent = AgentConfig.load("swe", overrides=["limits.max_turns=2"])
    rec = run_episode(env, agent, ScriptedPolicy([WRITE, "thinking, no call"]), "six-by-seven")
    assert [c.forced for c in rec.chunks] == [False, False, True]
    assert rec.chunks[1].format_error and rec.stop_reason == "max_turns" and rec.reward == 1.0
