"""The agents' vLLM policy (`vllm:PATH`) on a GPU: log-probs are the model's, prompt ids are
what the engine saw, and a guided episode through it completes. Skipped, with the reason,
where vllm or a CUDA device is missing (`gpu` skips stay skips under CI=true)."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import pytest

import envs.registration  # noqa: F401  (registers the ale/ ids)
from agents.config import AgentConfig
from agents.engines.vllm_engine import vllm_available
from agents.loop import run_episode
from agents.policies import make_policy
from agents.policies.scripted import GuidedPolicy
from agents.trajectory import load_trajectory
from envs.toy.shell import expert_actions


@pytest.fixture(scope="module")
def vllm_policy(request: pytest.FixtureRequest) -> object:
    ok, reason = vllm_available()
    if not ok:
        pytest.skip(reason)
    tiny_path = request.getfixturevalue("tiny_path")  # built only where it will be used
    agent = AgentConfig.load("toy")
    return make_policy(
        f"vllm:{tiny_path}",
        sampling=agent.sampling,
        dtype="float32",
        gpu_memory_utilization=0.2,
        enforce_eager=True,
    )


@pytest.mark.gpu
def test_vllm_policy_logprobs_are_the_models(vllm_policy: object, tiny_path: Path) -> None:
    from agents.engines.hf_engine import HFEngine

    out = vllm_policy.act([{"role": "user", "content": "fix the failing test"}])  # type: ignore[attr-defined]
    assert out.response_ids and out.logprobs and len(out.logprobs) == len(out.response_ids)
    assert all(lp <= 0 for lp in out.logprobs)
    assert out.usage == {
        "prompt_tokens": len(out.prompt_ids),
        "completion_tokens": len(out.response_ids),
    }
    # the engine's log-probs equal a local teacher-forced pass of the same ids (float32 both)
    forced = HFEngine.from_pretrained(tiny_path).forward_logprobs(out.prompt_ids, out.response_ids)
    assert out.logprobs == pytest.approx(forced, abs=2e-3)


@pytest.mark.gpu
def test_guided_episode_through_vllm(vllm_policy: object, tmp_path: Path) -> None:
    actions = expert_actions("delta-core")
    rec = run_episode(
        gymnasium.make("ale/ToyShell-v0", max_turns=8),
        AgentConfig.load("toy"),
        GuidedPolicy(actions, vllm_policy),
        "delta-core",
        tmp_path / "t.jsonl",
    )
    assert rec.reward == 1.0 and rec.stop_reason == "terminated"
    chunks = load_trajectory(tmp_path / "t.jsonl").chunks
    assert [c.response for c in chunks] == actions
    assert all(c.logprobs and len(c.logprobs) == len(c.response_ids) for c in chunks)
