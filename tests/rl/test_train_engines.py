"""Rollout engines: SYNC makes the engine's log-probs equal the trainer's; sleep/wake; vLLM."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from agents.engines.base import EngineError, Sampling
from agents.engines.vllm_engine import vllm_available
from rl.algos import LossConfig
from rl.config import TrainerConfig, parse_config
from rl.engines import make_engine
from rl.models import build_model
from rl.packing import Trajectory, pack
from rl.toy.task import ToyTask
from rl.trainer import Trainer
from rl.workers import WorkerGroup

#: float32 on CPU: the engine scores left-padded rows, the trainer right-padded packed rows,
#: so only summation order differs.
ATOL = {"toy": 1e-5, "hf": 1e-4, "hf_local": 1e-4}
#: (engine kind, model kind): "hf" is the KV-cached `HFEngine`, "hf_local" the cache-free
#: `LocalEngine` over the same transformers model.
ENGINES = [("toy", "tiny_lm"), ("hf", "hf_llama"), ("hf_local", "hf_llama")]


def _setup(engine_kind: str, kind: str) -> tuple[ToyTask, Trainer, Any]:
    torch.manual_seed(0)
    cfg = parse_config({"rollout": {"starts": 4, "group_size": 2}})
    task = ToyTask(cfg)
    model = build_model(kind, task.vocab_size, dim=32, layers=2, heads=2)
    trainer = Trainer(
        model, TrainerConfig(lr=1e-2, micro_batch=3), "ipa", LossConfig(), task.pad_id
    )
    engine = make_engine(engine_kind, trainer.unwrapped, pad_id=task.pad_id)
    return task, trainer, engine


def _fixed_batch(task: ToyTask, engine: Any) -> list[Trajectory]:
    group = WorkerGroup(task.spec, 1, 8)
    try:
        return [e.trajectory for e in task.collect(engine, group, 1)]
    finally:
        group.close()


def _engine_logps(engine: Any, trajs: list[Trajectory]) -> list[list[float]]:
    """Score every sampled chunk with the engine, given its whole context."""
    prompts, responses = [], []
    for t in trajs:
        ctx = list(t.prompt_ids)
        for c in t.chunks:
            if not c.expert:
                prompts.append(list(ctx))
                responses.append(c.action_ids)
            ctx += c.action_ids + c.obs_ids
    return engine.score(prompts, responses)


def _trainer_logps(trainer: Trainer, trajs: list[Trajectory]) -> list[list[float]]:
    batch = pack(trajs, trainer.pad_id)
    logp = trainer.logprobs(batch)
    out = []
    for cid in range(batch.chunk_traj.shape[0]):
        if not bool(batch.chunk_expert[cid]):
            out.append(logp[batch.chunk_id == cid].tolist())
    return out


def _max_diff(a: list[list[float]], b: list[list[float]]) -> float:
    return max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))


@pytest.mark.parametrize(("engine_kind", "kind"), ENGINES)
def test_after_sync_engine_logprobs_equal_trainer(engine_kind: str, kind: str) -> None:
    task, trainer, engine = _setup(engine_kind, kind)
    trajs = _fixed_batch(task, engine)
    # the sampler's own mu equals its scoring of the same tokens
    mu = [c.rollout_logp for t in trajs for c in t.chunks if not c.expert]
    assert _max_diff(mu, _engine_logps(engine, trajs)) < ATOL[engine_kind]
    for _ in range(2):
        trainer.train_step(trajs)
    # before SYNC the engine is one update behind: the log-probs differ
    assert _max_diff(_engine_logps(engine, trajs), _trainer_logps(trainer, trajs)) > 1e-3
    engine.update_weights(trainer.weights(), trainer.version)
    assert engine.version == trainer.version == 2
    diff = _max_diff(_engine_logps(engine, trajs), _trainer_logps(trainer, trajs))
    assert diff < ATOL[engine_kind], diff


@pytest.mark.parametrize(("engine_kind", "kind"), ENGINES)
def test_sleep_frees_weights_and_wake_restores_them(engine_kind: str, kind: str) -> None:
    task, trainer, engine = _setup(engine_kind, kind)
    before = {k: v.clone() for k, v in engine.model.state_dict().items()}
    sampling = Sampling(max_tokens=6, temperature=1.0, stop_token_ids=[task.tok.eos])
    prompts = [[task.tok.bos, 7, 8], [task.tok.bos, 9]]
    want = engine.generate(prompts, sampling, seed=3)
    engine.sleep()
    assert not engine.awake
    assert sum(p.numel() for p in engine.model.parameters()) == 0
    with pytest.raises(EngineError, match="asleep"):
        engine.generate(prompts, sampling, seed=3)
    engine.wake()
    after = engine.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    got = engine.generate(prompts, sampling, seed=3)
    assert [g.response_ids for g in got] == [w.response_ids for w in want]
    with pytest.raises(EngineError, match="older"):
        engine.update_weights(trainer.weights(), -1)


def test_trainer_offload_keeps_model_and_optimizer() -> None:
    task, trainer, engine = _setup("toy", "tiny_lm")
    trajs = _fixed_batch(task, engine)
    trainer.train_step(trajs)
    ref = {k: v.clone() for k, v in trainer.weights().items()}
    moments = [
        v.clone()
        for st in trainer.optimizer.state.values()
        for v in st.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    ]
    trainer.offload()
    assert sum(p.numel() for p in trainer.model.parameters()) == 0
    trainer.onload()
    assert all(torch.equal(ref[k], v) for k, v in trainer.weights().items())
    again = [
        v
        for st in trainer.optimizer.state.values()
        for v in st.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    ]
    assert all(torch.equal(a, b) for a, b in zip(moments, again, strict=True))


def test_unknown_engine_names_the_nearest() -> None:
    with pytest.raises(EngineError, match="Did you mean 'vllm'"):
        make_engine("vlm")


@pytest.mark.gpu
def test_vllm_engine_sync_matches_trainer(tmp_path: object) -> None:
    ok, reason = vllm_available()
    if not ok:
        pytest.skip(reason)
    from pathlib import Path

    from agents.engines.vllm_engine import VLLMEngine

    torch.manual_seed(0)
    model = build_model("hf_llama", 64, dim=64, layers=2, heads=2)
    path = Path(str(tmp_path)) / "m"
    model.save_pretrained(path)
    engine = VLLMEngine.for_training(str(path), dtype="float32")
    gens = engine.generate([[1, 5, 6], [1, 7]], Sampling(max_tokens=8, temperature=1.0), seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    engine.update_weights(model.state_dict(), 1)
    scored = engine.score([g.prompt_ids for g in gens], [g.response_ids for g in gens])
    model.eval()
    for g, s in zip(gens, scored, strict=True):
        ids = torch.tensor([g.prompt_ids + g.response_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].float(), -1)
        ref = [float(logp[len(g.prompt_ids) + j - 1, t]) for j, t in enumerate(g.response_ids)]
        assert max(abs(a - b) for a, b in zip(ref, s, strict=True)) < 2e-3
    engine.sleep()
    engine.wake()
