"""HF engine/policy: recorded log-probs = teacher-forced forward pass; exact token parity.

Tolerance: float32 CPU, |recorded - teacher_forced| <= 1e-4 nats per token (KV-cache
incremental decoding vs one full forward differ only by float rounding, ~1e-6 seen).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium
import pytest
import torch

import envs.registration  # noqa: F401
from agents.config import AgentConfig
from agents.engines.base import Sampling
from agents.engines.hf_engine import HFEngine
from agents.loop import run_episode
from agents.policies.hf import HFPolicy
from agents.policies.scripted import GuidedPolicy
from agents.trajectory import load_trajectory
from envs.toy.shell import expert_actions

TOL = 1e-4


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(temperature=1.0, max_tokens=24, seed=3),
        Sampling(temperature=0.7, top_k=50, top_p=0.9, max_tokens=24, seed=4),
        Sampling(temperature=0.0, max_tokens=24),
    ],
    ids=["t1", "topk-topp", "greedy"],
)
def test_recorded_logprobs_equal_teacher_forcing(tiny_path: Path, sampling: Sampling) -> None:
    engine = HFEngine.from_pretrained(tiny_path)
    prompts = [[1, 40, 41, 42, 43, 44], [1, 100, 7]]  # ragged: exercises left padding
    outs = engine.generate(prompts, sampling)
    for prompt, gen in zip(prompts, outs, strict=True):
        resp, lps = gen.response_ids, gen.logprobs
        assert len(resp) == len(lps) > 0
        forced = engine.forward_logprobs(prompt, resp)
        assert max(abs(a - b) for a, b in zip(lps, forced, strict=True)) <= TOL
    # the same seed gives the same sample
    if sampling.seed is not None:
        assert engine.generate(prompts, sampling) == outs


def test_guided_choice_and_weight_sync(tiny_path: Path) -> None:
    engine = HFEngine.from_pretrained(tiny_path)
    [gen] = engine.generate(
        [[1, 5]], Sampling(temperature=1.0, max_tokens=10, seed=0), guided=[[[30, 31, 2]]]
    )
    resp, lps = gen.response_ids, gen.logprobs
    assert resp == [30, 31, 2] and lps == pytest.approx(
        engine.forward_logprobs([1, 5], resp), abs=TOL
    )
    sd = {k: v.clone() for k, v in engine.model.state_dict().items()}
    before = engine.forward_logprobs([1, 5], resp)
    sd = {
        k: v + 0.05 * torch.randn_like(v) if v.dtype.is_floating_point else v for k, v in sd.items()
    }
    engine.update_weights(sd, 1)
    assert engine.version == 1
    after = engine.forward_logprobs([1, 5], resp)
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) > 1e-3
    [gen2] = engine.generate(
        [[1, 5]], Sampling(temperature=1.0, max_tokens=10, seed=0), guided=[[[30, 31, 2]]]
    )
    lps2 = gen2.logprobs
    assert lps2 == pytest.approx(after, abs=TOL)


def _run(tiny_path: Path, tmp_path: Path, guided: bool) -> tuple[HFPolicy, Path]:
    pol = HFPolicy.from_pretrained(tiny_path, record=True)
    pol.sampling = Sampling(temperature=1.0, max_tokens=12, seed=0)
    agent = AgentConfig.load("toy")
    policy = GuidedPolicy(expert_actions("gamma-util"), pol) if guided else pol
    out = tmp_path / f"t{int(guided)}.jsonl"
    run_episode(gymnasium.make("ale/ToyShell-v0", max_turns=5), agent, policy, "gamma-util", out)
    return pol, out


@pytest.mark.parametrize("guided", [True, False], ids=["append-prompts", "free-sampling"])
def test_token_parity(tiny_path: Path, tmp_path: Path, guided: bool) -> None:
    """Recorded prompt+response ids of every chunk == exactly what the engine was fed and sampled."""
    pol, path = _run(tiny_path, tmp_path, guided)
    rec = load_trajectory(path)
    trace = pol.engine.trace or []
    assert len(trace) == len(rec.chunks) >= 4
    for chunk, (fed, sampled) in zip(rec.chunks, trace, strict=True):
        assert chunk.prompt_ids == fed and chunk.response_ids == sampled
        assert (chunk.prompt_ids or []) + (chunk.response_ids or []) == fed + sampled
        assert len(chunk.logprobs or []) == len(sampled)
        assert chunk.logprobs == pytest.approx(pol.engine.forward_logprobs(fed, sampled), abs=TOL)
    if guided:
        # guided replies end with EOS, so prompts are built append-only: the episode is one
        # token stream, sampled ids never re-tokenized, policy tokens marked by the mask
        assert rec.reward == 1.0
        assert [c.prompt_mode for c in rec.chunks] == ["render"] + ["append"] * (
            len(rec.chunks) - 1
        )
        stream = rec.token_stream()
        assert stream is not None
        ids, mask, _ = stream
        last = rec.chunks[-1]
        assert ids == (last.prompt_ids or []) + (last.response_ids or [])
        assert sum(mask) == sum(len(c.response_ids or []) for c in rec.chunks)
        assert pol.tokenizer.decode(ids).endswith("test<|im_end|>")
