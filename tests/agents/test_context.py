"""Context policy: a 200-turn episode stays within the token budget; what is kept is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium

import envs.registration  # noqa: F401
from agents.config import AgentConfig, ContextPolicy
from agents.context import build_prompt, cut_middle
from agents.engines.base import Sampling
from agents.loop import run_episode
from agents.policies import PolicyOutput
from agents.policies.hf import HFPolicy
from agents.policies.scripted import GuidedPolicy, ScriptedPolicy
from agents.trajectory import load_trajectory

BUDGET = 160


def _agent(**context: Any) -> AgentConfig:
    base = AgentConfig.load("toy").model_dump()
    base["context"].update(context)
    base["limits"].update(max_turns=200)
    return AgentConfig.from_dict(base)


def test_200_turn_episode_stays_within_token_budget(tiny_path: Path, tmp_path: Path) -> None:
    pol = HFPolicy.from_pretrained(tiny_path)
    pol.sampling = Sampling(temperature=1.0, max_tokens=8, seed=0)
    actions = ["cd alpha", "ls", "cat util", "cat core"] * 50  # never fixes the bug: 200 turns
    agent = _agent(keep_last_turns=50, max_prompt_tokens=BUDGET)
    rec = run_episode(
        gymnasium.make("ale/ToyShell-v0", max_turns=500),
        agent,
        GuidedPolicy(actions, pol),
        "alpha-main",
        tmp_path / "t.jsonl",
    )
    rec = load_trajectory(tmp_path / "t.jsonl")
    assert len(rec.chunks) == 200 and rec.stop_reason == "max_turns"
    lengths = [len(c.prompt_ids or []) for c in rec.chunks]
    assert (
        max(lengths) <= BUDGET
    )  # the budget holds at every chunk, counted in the engine's own ids
    assert all(c.context["prompt_tokens"] == n for c, n in zip(rec.chunks, lengths, strict=True))
    last = rec.chunks[-1]
    # what was kept: system + task + the most recent turns, in order, ending with the last observation
    assert last.messages[0]["role"] == "system" and last.messages[1]["content"] == rec.instruction
    kept = last.context["kept"]
    assert last.context["dropped_turns"] == 199 - kept and 0 < kept < 50
    assert len(last.messages) == 2 + 2 * kept
    assert [m["content"] for m in last.messages[2::2]] == actions[199 - kept : 199]
    # dropping is gradual: early chunks kept everything, later ones drop more
    assert (
        rec.chunks[1].context["dropped_turns"] == 0
        and rec.chunks[-1].context["dropped_turns"] > 150
    )


def test_keep_last_n_and_cut_observations() -> None:
    history = [{"role": "system", "content": "S"}, {"role": "user", "content": "TASK"}]
    for i in range(10):
        history += [{"role": "assistant", "content": f"a{i}"}, {"role": "user", "content": f"o{i}"}]
    prompt, rep = build_prompt(history, ContextPolicy(keep_last_turns=3))
    assert [m["content"] for m in prompt] == ["S", "TASK", "a7", "o7", "a8", "o8", "a9", "o9"]
    assert rep.dropped_turns == 7
    prompt, rep = build_prompt(
        history, ContextPolicy(keep_last_turns=3), summary="did stuff", summarized_turns=7
    )
    assert prompt[2]["content"].startswith("Summary of the 7 earliest turns:\ndid stuff")
    text = "H" * 500 + "M" * 1000 + "T" * 500
    cut, was_cut = cut_middle(text, 200, head_fraction=0.5)
    assert was_cut and len(cut) <= 200 and cut.startswith("H" * 50) and cut.endswith("T" * 50)
    assert "characters cut" in cut and cut_middle("short", 200) == ("short", False)


def test_long_observation_is_cut_and_summary_requested(tmp_path: Path) -> None:
    class Summarizing(ScriptedPolicy):
        def act(self, messages: list[dict[str, Any]], tools: Any = None) -> PolicyOutput:
            if "Summarize" in str(messages[-1]["content"]):
                return PolicyOutput(text="SUMMARY")
            return super().act(messages, tools)

    agent = _agent(keep_last_turns=2, summarize=True, max_observation_chars=64)
    agent.limits.max_turns = 6
    rec = run_episode(
        gymnasium.make("ale/ToyShell-v0", max_turns=50),
        agent,
        Summarizing(["cd alpha", "ls"]),
        "alpha-main",
        tmp_path / "t.jsonl",
    )
    last = rec.chunks[-1]
    assert any(m["content"].endswith("SUMMARY") for m in last.messages)
    assert last.context["summarized_turns"] == last.context["dropped_turns"] == 3
