"""`ale sft`: token parity with the policy's own record, the row layout, stage-2 weights (a
vectorized formula against a slow loop), one-line config errors, and `ale train` starting from
an SFT checkpoint with the dataset as its expert source."""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path
from typing import Any

import gymnasium
import pytest
import torch

import envs  # noqa: F401  (registers ale/ToyShell-v0)
from agents.config import AgentConfig
from agents.engines.base import Sampling
from agents.loop import run_episode
from agents.trajectory import EpisodeRecord, load_trajectories
from envs.core.config import ConfigError
from envs.toy import VOCAB, task_ids
from rl.data.build import DataConfig, build_dataset
from rl.data.filters import FilterConfig
from rl.engines import make_engine
from rl.packing import PackedBatch, pack
from rl.sft.config import SFTConfig, Stage2Section, parse_sft_config
from rl.sft.data import row_trajectory
from rl.sft.train import sft
from rl.sft.weights import effective_size, hardness, revisit, value_weights
from rl.toy.model import TinyLM, WordTokenizer
from rl.toy.policy import ToyPolicy
from rl.toy.teacher import ToyTeacher

TOY_AGENT = ["limits.max_turns=4", "context.keep_last_turns=4"]


def sampled_episodes(path: Path, n: int) -> list[EpisodeRecord]:
    """`n` toy episodes sampled by `ToyPolicy` over a random TinyLM engine (recorded ids)."""
    torch.manual_seed(0)
    tok = WordTokenizer(VOCAB)
    engine = make_engine("toy", TinyLM(len(tok), 32, 1, 2), pad_id=tok.pad, eos_ids=[tok.eos])
    sampling = Sampling(max_tokens=4, temperature=1.0, stop_token_ids=[tok.eos])
    agent = AgentConfig.load("toy", overrides=TOY_AGENT)
    env = gymnasium.make("ale/ToyShell-v0", max_turns=4)
    for t in task_ids()[:n]:
        run_episode(env, agent, ToyPolicy(engine, tok, sampling), t, trajectory_path=path)
    return load_trajectories(path)


def teacher_episodes(path: Path, quality: float, attempts: int = 2) -> Path:
    agent = AgentConfig.load("toy", overrides=TOY_AGENT)
    env = gymnasium.make("ale/ToyShell-v0", max_turns=4)
    rng = random.Random(int(quality * 100))
    for _ in range(attempts):
        for t in task_ids()[:8]:
            run_episode(env, agent, ToyTeacher(quality, rng), t, trajectory_path=path)
    return path


def toy_cfg(tmp_path: Path, data: Path, **sections: dict[str, Any]) -> SFTConfig:
    raw: dict[str, Any] = {
        "run": {"out_dir": str(tmp_path / "sft"), "progress": False, "checkpoint_every": 0},
        "task": {"kind": "toy", "max_turns": 4},
        "model": {"kind": "tiny_lm", "dim": 32, "layers": 1, "heads": 2},
        "data": {"path": str(data)},
        "optim": {"batch_size": 4, "micro_batch": 2, "lr": 0.01},
        "stage1": {"steps": 3},
        "stage2": {"steps": 3},
        "eval": {"every": 0},
    }
    for k, v in sections.items():
        raw[k] = {**raw.get(k, {}), **v}
    return parse_sft_config(raw)


# -- acceptance: token parity ----------------------------------------------------------------
def test_sft_trains_on_the_ids_the_policy_produced(tmp_path: Path) -> None:
    """Every row `ale sft` packs for a step is the policy's own stream: each chunk's prompt
    ids as fed, then its sampled ids; the loss covers exactly the sampled ids."""
    records = sampled_episodes(tmp_path / "sampled.jsonl", 4)
    loose = FilterConfig(resolved_only=False, drop_format_errors=False, dedup=False)
    build_dataset([tmp_path / "sampled.jsonl"], tmp_path / "ds", DataConfig(filters=loose))
    seen: list[tuple[list[int], PackedBatch]] = []
    cfg = toy_cfg(tmp_path, tmp_path / "ds", stage1={"steps": 2}, stage2={"steps": 2})
    sft(cfg, on_batch=lambda step, stage, idx, micro: seen.append((idx, micro[0])))
    assert len(seen) == 4  # one hook call per step, stage 1 and stage 2
    checked = set()
    for idx, batch in seen:
        for r, i in enumerate(idx[: batch.input_ids.shape[0]]):
            rec = records[i]
            n = int(batch.attention[r].sum())
            row = batch.input_ids[r, :n].tolist()
            trained = (batch.chunk_id[r, :n] >= 0).tolist()
            expect_mask = [False] * n
            for c in rec.chunks:
                p, a = list(c.prompt_ids or []), list(c.response_ids or [])
                assert row[: len(p)] == p  # the prompt exactly as the policy was fed it
                assert row[len(p) : len(p) + len(a)] == a  # the ids it sampled
                expect_mask[len(p) : len(p) + len(a)] = [True] * len(a)
            assert trained == expect_mask
            checked.add(i)
    assert checked == set(range(len(records)))


@pytest.mark.parametrize(
    "mask",
    [[0, 1, 1, 0, 0, 1], [0, 0, 1, 0, 1, 1], [0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 0, 0]],
)
def test_rows_pack_back_to_the_recorded_stream(mask: list[int]) -> None:
    ids = [7, 8, 9, 10, 11, 12]
    batch = pack([row_trajectory(ids, mask)])
    assert batch.input_ids[0].tolist() == ids
    assert (batch.chunk_id[0] >= 0).long().tolist() == mask
    with pytest.raises(ConfigError):
        row_trajectory([1, 2], [1, 1])


# -- stage 2 weights ---------------------------------------------------------------------------
def reference_weights(
    losses: list[float], diff: list[float], reward: list[float], tasks: list[str], c: Stage2Section
) -> list[float]:
    """The docs/sft.md formula, one sample at a time."""
    n, mid = len(losses), statistics.median(losses)
    values = []
    for i in range(n):
        rho = losses[i] / mid if mid > 0 else 1.0
        h = rho if rho <= c.learnable_cap else c.learnable_cap * math.exp(-(rho - c.learnable_cap))
        d = c.eps + diff[i]
        s = c.eps + min(max(reward[i], 0.0), 1.0)
        v = 1.0 / sum(1 for t in tasks if t == tasks[i])
        values.append(h**c.loss_exp * d**c.difficulty_exp * s**c.success_exp * v**c.novelty_exp)
    total = sum(values)
    return [(1 - c.uniform_mix) * n * v / total + c.uniform_mix for v in values]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_weights_equal_the_reference_loop(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n = 12
    losses = torch.rand(n, generator=g) * 3
    losses[0] = 40.0  # an outlier past the cap
    diff, reward = torch.rand(n, generator=g), (torch.rand(n, generator=g) > 0.3).double()
    tasks = [f"t{i % 5}" for i in range(n)]
    cfg = Stage2Section(loss_exp=1.5, difficulty_exp=0.5, success_exp=2.0, novelty_exp=1.0)
    fast = value_weights(losses, diff, reward, tasks, cfg)
    slow = reference_weights(losses.tolist(), diff.tolist(), reward.tolist(), tasks, cfg)
    assert fast.tolist() == pytest.approx(slow, rel=1e-9)
    assert float(fast.mean()) == pytest.approx(1.0) and float(fast.min()) >= cfg.uniform_mix


def test_hard_but_learnable_samples_are_revisited_most() -> None:
    cap = Stage2Section().learnable_cap
    h = hardness(torch.tensor([0.1, 0.5, 1.0, 2.0, 3.0, 20.0]), cap)
    rho = torch.tensor([0.1, 0.5, 1.0, 2.0, 3.0, 20.0]) / 1.5  # the median
    assert torch.allclose(h[:5], rho[:5])  # below the cap: the relative loss itself
    assert float(h[5]) < float(h[4])  # an outlier far past the cap decays
    only_loss = Stage2Section(difficulty_exp=0, success_exp=0, novelty_exp=0, uniform_mix=0)
    losses = torch.tensor([0.2, 1.0, 2.0, 50.0])
    w = value_weights(losses, torch.zeros(4), torch.ones(4), ["a", "b", "c", "d"], only_loss)
    assert int(w.argmax()) == 2 and float(w[3]) < float(w[0])
    # the draws follow the weights
    picks = revisit(torch.cat([w] * 500), torch.Generator().manual_seed(0))
    share = torch.bincount(torch.tensor(picks) % 4, minlength=4).double() / len(picks)
    assert share.tolist() == pytest.approx((w / w.sum()).tolist(), abs=0.02)


def test_each_factor_of_the_value_score() -> None:
    ones, n = torch.ones(4), 4
    flat = Stage2Section(loss_exp=0, difficulty_exp=0, success_exp=0, novelty_exp=0)
    assert (
        value_weights(torch.rand(n), torch.rand(n), ones, list("abcd"), flat).tolist()
        == [pytest.approx(1.0)] * n
    )
    assert effective_size(torch.ones(n)) == pytest.approx(1.0)
    c = Stage2Section(loss_exp=0, uniform_mix=0)
    hard = value_weights(ones, torch.tensor([0.0, 0.0, 1.0, 1.0]), ones, list("abcd"), c)
    assert float(hard[2]) > float(hard[0])  # harder task (teacher pass rate lower): more
    failed = value_weights(ones, ones, torch.tensor([1.0, 0.0, 1.0, 1.0]), list("abcd"), c)
    assert float(failed[1]) < float(failed[0])  # a failed episode: less
    common = value_weights(ones, ones, ones, ["a", "a", "a", "b"], c)
    assert float(common[3]) == pytest.approx(3 * float(common[0]))  # rare task: more
    assert float(value_weights(ones, ones, ones, list("abcd"), c).sum()) == pytest.approx(n)


# -- the run, its checkpoint, `ale train` from it -----------------------------------------------
def test_sft_run_learns_and_ale_train_starts_from_it(tmp_path: Path) -> None:
    src = teacher_episodes(tmp_path / "teacher.jsonl", 0.9)
    build_dataset([src], tmp_path / "ds", DataConfig(tokenizer="toy"))
    cfg = toy_cfg(
        tmp_path, tmp_path / "ds", stage1={"steps": 6}, stage2={"steps": 6}, eval={"every": 0}
    )
    summary = sft(cfg)
    rows = summary.history
    assert [r["stage"] for r in rows] == [1] * 6 + [2] * 6
    assert all(math.isfinite(r["loss"]) for r in rows) and rows[-1]["loss"] < rows[0]["loss"]
    assert any("stage2/ess" in r for r in rows)
    run = tmp_path / "sft"
    assert (run / "metrics.jsonl").exists() and (run / "curves.png").exists()
    assert any((run / "tb").iterdir()) and set(summary.checkpoints) == {1, 2}
    assert summary.checkpoints[1].parent == run / "stage1"  # kept out of the rotation

    from rl.checkpoint import find_checkpoint, load_checkpoint
    from rl.config import parse_config
    from rl.records import read_jsonl
    from rl.train_loop import train

    sft_model = load_checkpoint(find_checkpoint(run))[0]["trainer"]["model"]
    raw: dict[str, Any] = {
        "run": {"out_dir": str(tmp_path / "ipa"), "steps": 1, "progress": False},
        "task": {"kind": "toy", "max_turns": 4},
        "model": {"kind": "tiny_lm", "dim": 32, "layers": 1, "heads": 2, "init_from": str(run)},
        "scheduler": {"workers": 1, "envs_per_worker": 4},
        "rollout": {"starts": 2, "group_size": 2, "expert_data": str(tmp_path / "ds")},
        "trainer": {"update_epochs": 1, "lr": 0.0},
        "eval": {"every": 0},
    }
    train(parse_config(raw))
    [event] = read_jsonl(tmp_path / "ipa" / "events.jsonl")
    assert event["init_from"] == str(find_checkpoint(run))
    ipa_model = load_checkpoint(find_checkpoint(tmp_path / "ipa"))[0]["trainer"]["model"]
    for k, v in sft_model.items():  # lr 0: the IPA run kept the SFT weights it started from
        assert torch.allclose(v, ipa_model[k]), k
    # a model section that does not fit the checkpoint: one config error naming the fix
    raw["run"]["out_dir"] = str(tmp_path / "ipa2")
    raw["model"]["dim"] = 16
    with pytest.raises(ConfigError, match="model section of the run"):
        train(parse_config(raw))


def test_expert_data_gives_each_task_its_shortest_resolved_episode(tmp_path: Path) -> None:
    from rl.data.experts import dataset_experts

    src = teacher_episodes(tmp_path / "teacher.jsonl", 0.6, attempts=3)
    loose = FilterConfig(resolved_only=False, dedup=False)
    build_dataset([src], tmp_path / "ds", DataConfig(tokenizer="toy", filters=loose))
    from rl.data.build import load_sft_dataset

    rows = list(load_sft_dataset(tmp_path / "ds"))
    experts = {e.task_id: e for e in dataset_experts(tmp_path / "ds", task_ids())}
    for t in task_ids():
        mine = [r["actions"] for r in rows if r["task_id"] == t and r["status"] == "resolved"]
        if mine:
            assert list(experts[t].actions) == min(mine, key=len)
        else:
            assert experts[t].actions == ()


def test_shipped_sft_configs_load() -> None:
    from rl.sft.config import CONFIG_DIR, load_sft_config

    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert "toy_sft" in names
    for name in names:
        load_sft_config(name)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--set", "optim.learning_rate=0.1"],
        ["--set", "data.path=/nonexistent/ds"],
        ["--set", "stage2.loss_exp=high"],
    ],
)
def test_bad_sft_config_is_one_line_exit_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["sft", "toy_sft", "--set", f"run.out_dir={tmp_path / 'r'}", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_sft_toy_recipe_smoke(tmp_path: Path) -> None:
    """`python -m rl.recipes.sft_toy` with a tiny budget: every stage runs, the table has every
    row (the README's numbers come from the full budget)."""
    from rl.recipes import sft_toy

    out = tmp_path / "recipe"
    argv = ["--seeds", "1", "--out", str(out), "--attempts", "1", "--stage1", "2"]
    argv += ["--stage2", "2", "--ipa", "1", "--starts", "2", "--group-size", "2"]
    assert sft_toy.main([*argv, "--eval-episodes", "4"]) == 0
    table = (out / "table.md").read_text()
    for name, _, _ in sft_toy.ROWS:
        assert f"| {name} |" in table
    assert (out / "seed0" / "ipa_scratch" / "metrics.jsonl").exists()
