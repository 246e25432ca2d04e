"""Trainer pieces: gradient accumulation, atomic checkpoints, strict config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from envs.core.config import ConfigError
from rl.algos import LossConfig
from rl.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from rl.config import TrainerConfig, load_config, parse_config
from rl.packing import Chunk, Trajectory
from rl.records import Rollout
from rl.toy.model import TinyLM
from rl.trainer import Trainer


def _trajs(n: int, seed: int = 0) -> list[Trajectory]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        chunks = []
        for _ in range(1 + i % 3):
            ids = torch.randint(6, 30, (3,), generator=g).tolist()
            chunks.append(Chunk(ids, [-3.0] * 3, torch.randint(6, 30, (2,), generator=g).tolist()))
        out.append(Trajectory([1, 7], chunks, float(i % 2)))
    return out


def _grads(micro: int) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = TinyLM(32, dim=16, layers=1, heads=2)
    trainer = Trainer(
        model,
        TrainerConfig(lr=0.0, update_epochs=1, micro_batch=micro, max_grad_norm=1e9),
        "ipa",
        LossConfig(failure_reward=-0.5),
        pad_id=0,
    )
    trainer.train_step(_trajs(6))
    return [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None]


def test_gradient_accumulation_over_packed_micro_batches_equals_full_batch() -> None:
    full, accumulated = _grads(6), _grads(2)
    assert len(full) == len(accumulated) > 0
    for a, b in zip(full, accumulated, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert any(float(g.abs().sum()) > 0 for g in full)


def test_train_step_bumps_version_and_changes_weights() -> None:
    torch.manual_seed(0)
    trainer = Trainer(
        TinyLM(32, dim=16, layers=1, heads=2),
        TrainerConfig(micro_batch=2),
        "ipa",
        LossConfig(failure_reward=-0.5),
    )
    before = {k: v.clone() for k, v in trainer.weights().items()}
    metrics = trainer.train_step(_trajs(4))
    assert trainer.version == 1 and metrics["micro_batches"] == 2.0
    assert torch.isfinite(torch.tensor(metrics["loss"]))
    assert any(not torch.equal(before[k], v) for k, v in trainer.weights().items())


def test_checkpoint_is_atomic_and_keeps_the_newest(tmp_path: Path) -> None:
    for step in (2, 4, 6):
        save_checkpoint(tmp_path, step, {"x": torch.tensor([step])}, {"cursor": step}, keep=2)
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_000004", "step_000006"]
    # a torn write (tmp folder left by a kill) is never picked up
    (tmp_path / ".tmp_step_000008").mkdir()
    (tmp_path / ".tmp_step_000008" / "state.pt").write_bytes(b"torn")
    path = latest_checkpoint(tmp_path)
    assert path is not None and path.name == "step_000006"
    state, meta = load_checkpoint(path)
    assert int(state["x"]) == 6 and meta == {"step": 6, "cursor": 6}
    (tmp_path / "LATEST").unlink()
    assert latest_checkpoint(tmp_path) is None


def test_rollout_record_round_trip() -> None:
    r = Rollout(3, 1, _trajs(2)[1], 1.0, "alpha-main", 2, 5, {"infra_error": False})
    again = Rollout.from_json(json.loads(json.dumps(r.to_json())))
    assert again == r


def test_config_unknown_key_names_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'scheduler.max_stalenes'.*'max_staleness'"):
        parse_config({"scheduler": {"max_stalenes": 1}})
    with pytest.raises(ConfigError, match=r"scheduler.mode"):
        parse_config({"scheduler": {"mode": "colocate"}})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_configs_load() -> None:
    root = Path(__file__).resolve().parents[2] / "rl" / "configs"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert {"toy_ipa.yaml", "swe_mini_tiny.yaml"} <= set(names)
    for name in names:
        load_config(root / name)
    cfg = load_config(root / "toy_ipa.yaml", ["run.steps=3", "algo.loss=grpo"])
    assert cfg.run.steps == 3 and cfg.algo.loss == "grpo"


def test_agent_records_become_one_packed_row_when_prompts_append() -> None:
    from types import SimpleNamespace as NS

    from rl.rollout import record_to_trajectories

    c1 = NS(prompt_ids=[1, 2, 3], response_ids=[4, 5], logprobs=[-1.0, -2.0], expert=False)
    c2 = NS(prompt_ids=[1, 2, 3, 4, 5, 6, 7], response_ids=[8], logprobs=[-0.5], expert=False)
    c3 = NS(prompt_ids=[1, 9], response_ids=[10], logprobs=[-0.1], expert=False)  # history was cut
    forced = NS(
        prompt_ids=None, response_ids=None, logprobs=None, expert=False
    )  # forced submit: no ids
    [row] = record_to_trajectories(NS(chunks=[c1, c2, forced], reward=1.0), group=3)
    assert row.prompt_ids == [1, 2, 3] and row.reward == 1.0 and row.group == 3
    assert [(c.action_ids, c.obs_ids) for c in row.chunks] == [([4, 5], [6, 7]), ([8], [])]
    rows = record_to_trajectories(NS(chunks=[c1, c2, c3], reward=0.0), group=0)
    assert [len(r.chunks) for r in rows] == [2, 1] and rows[1].prompt_ids == [1, 9]
