"""The agent loop on ToyShell: scripted episodes, limits, native tool calls, policy specs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import gymnasium
import pytest

import envs.registration  # noqa: F401
from agents.actions import to_action
from agents.config import AgentConfig
from agents.errors import PolicyError
from agents.loop import run_episode
from agents.policies import PolicyOutput, make_policy
from agents.policies.human import HumanPolicy
from agents.policies.scripted import ScriptedPolicy, load_actions
from agents.trajectory import load_trajectory
from envs.toy.shell import expert_actions


def test_scripted_episode_succeeds_and_replays(tmp_path: Path, toy_agent: AgentConfig) -> None:
    env = gymnasium.make("ale/ToyShell-v0", max_turns=8)
    seen = []
    rec = run_episode(
        env,
        toy_agent,
        ScriptedPolicy(expert_actions("beta-io")),
        "beta-io",
        tmp_path / "t.jsonl",
        on_chunk=seen.append,
    )
    assert rec.reward == 1.0 and rec.terminated and rec.stop_reason == "terminated"
    assert len(seen) == 4 and seen[-1].observation == "tests PASS"
    loaded = load_trajectory(tmp_path / "t.jsonl")
    assert loaded.finished and loaded.actions == expert_actions("beta-io")
    assert loaded.chunks[2].messages[-1] == {"role": "user", "content": "tests FAIL in io"}
    # records are replayable into the env: the first K-1 actions restore the state
    _, info = env.reset(options={"task_id": "beta-io", "replay": loaded.actions[:-1]})
    assert env.step(loaded.actions[-1])[1] == 1.0 and len(info["replayed"]) == 3


def test_agent_turn_limit_stops_episode(toy_agent: AgentConfig) -> None:
    agent = toy_agent.model_copy(
        update={"limits": toy_agent.limits.model_copy(update={"max_turns": 3})}
    )
    env = gymnasium.make("ale/ToyShell-v0", max_turns=50)
    rec = run_episode(env, agent, ScriptedPolicy(["ls"]), "alpha-main")
    assert (
        len(rec.chunks) == 3
        and rec.stop_reason == "max_turns"
        and rec.truncated
        and rec.reward == 0
    )


def test_token_limit(toy_agent: AgentConfig) -> None:
    class Counting(ScriptedPolicy):
        def act(self, messages, tools=None):  # type: ignore[no-untyped-def]
            return PolicyOutput(text="ls", usage={"prompt_tokens": 40, "completion_tokens": 10})

    agent = AgentConfig.from_dict(
        {**toy_agent.model_dump(), "limits": {"max_turns": 50, "max_tokens": 120}}
    )
    rec = run_episode(
        gymnasium.make("ale/ToyShell-v0", max_turns=50), agent, Counting(["ls"]), "alpha-main"
    )
    assert len(rec.chunks) == 3 and rec.stop_reason == "max_tokens"


def test_native_tool_call_is_rendered_in_env_format() -> None:
    out = PolicyOutput(
        text="look first",
        tool_calls=[
            {
                "id": "c",
                "type": "function",
                "function": {"name": "bash", "arguments": json.dumps({"command": "ls -la"})},
            }
        ],
    )
    from envs.core.actions import parse_action

    for fmt in ("xml", "json", "bash_block"):
        call = parse_action(to_action(out, fmt, native_tools=True), fmt, ("bash", "submit"))  # type: ignore[arg-type]
        assert call.name == "bash" and call.arguments == {"command": "ls -la"}
    assert to_action(out, "xml", native_tools=False) == "look first"


def test_make_policy_specs(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("- cd alpha\n- |\n  multi\n  line\n")
    pol = make_policy(f"scripted:{f}")
    assert [pol.act([]).text for _ in range(2)] == ["cd alpha", "multi\nline\n"]
    t = tmp_path / "s.txt"
    t.write_text("a\n---\nb\nc\n")
    assert load_actions(t) == ["a", "b\nc"]
    with pytest.raises(PolicyError, match="Did you mean 'scripted'"):
        make_policy("scriptd:x")
    from agents.policies.openai_http import parse_openai_spec

    assert parse_openai_spec("m@http://127.0.0.1:1/v1") == ("m", "http://127.0.0.1:1/v1")
    assert type(make_policy("empty")).__name__ == "EmptyPolicy"
    assert type(make_policy("oracle")).__name__ == "OraclePolicy"


def test_human_policy_reads_turns() -> None:
    pol = HumanPolicy(stdin=io.StringIO("ls\n<<<\nline 1\nline 2\n>>>\n"), stderr=io.StringIO())
    msgs = [{"role": "user", "content": "hi"}]
    assert pol.act(msgs).text == "ls"
    assert pol.act(msgs).text == "line 1\nline 2"
    with pytest.raises(PolicyError, match="stdin closed"):
        pol.act(msgs)


def test_vllm_policy_skips_cleanly_without_gpu() -> None:
    from agents.engines.vllm_engine import vllm_available

    ok, why = vllm_available()
    if ok:
        pytest.skip("vllm present: tests/agents/test_vllm_policy.py (gpu) covers it")
    with pytest.raises(PolicyError, match="vllm policy unavailable"):
        make_policy("vllm:/nonexistent")
    assert why


def test_parse_native_tool_calls_from_text() -> None:
    from agents.actions import parse_tool_calls

    calls = parse_tool_calls(
        'think <tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>'
    )
    assert calls == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "bash", "arguments": '{"command": "ls"}'},
        }
    ]
    assert parse_tool_calls("<tool_call>not json</tool_call>") is None
    out = PolicyOutput(text="think", tool_calls=calls)
    assert to_action(out, "json", native_tools=True).endswith(
        '{"name": "bash", "arguments": {"command": "ls"}}\n```'
    )
