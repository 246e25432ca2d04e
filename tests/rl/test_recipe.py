"""The toy recipe: rollouts, CLI, smoke runs of every loss, filtering, and the learning test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import torch

from bench.perf import packing as bench_packing
from envs.toy import VOCAB, ToyShellEnv, expert_actions, task_ids
from rl.algos import LOSSES
from rl.config import load_config
from rl.dataclass_cli import parse_args
from rl.packing import pack, token_logprobs
from rl.recipes import compare_toy
from rl.recipes.ipa_toy import Args, loss_config, train
from rl.recipes.toy_rollout import run_episodes, sample_actions
from rl.records import read_jsonl
from rl.resampling import ExpertTrajectory, start_at
from rl.toy.model import TinyLM, WordTokenizer, num_parameters
from rl.train_loop import train as ale_train

TINY = {
    "iters": 2,
    "starts": 4,
    "group_size": 2,
    "eval_episodes": 8,
    "eval_every": 1,
    "quiet": True,
}


def test_sampler_logprobs_match_the_trainer_and_prefix_is_expert() -> None:
    torch.manual_seed(0)
    tok = WordTokenizer(VOCAB)
    model = TinyLM(len(tok)).eval()
    assert 100_000 < num_parameters(model) < 1_000_000
    experts = [ExpertTrajectory(t, tuple(expert_actions(t))) for t in task_ids()]
    starts = [start_at(experts[i], 1 + i % 4) for i in range(12)]
    envs = [ToyShellEnv() for _ in starts]
    episodes = run_episodes(model, envs, starts, tok, torch.Generator().manual_seed(0))
    for e, s in zip(episodes, starts, strict=True):
        assert [c.expert for c in e.trajectory.chunks[: s.anchor - 1]] == [True] * (s.anchor - 1)
        assert not any(c.expert for c in e.trajectory.chunks[s.anchor - 1 :])
        assert all(len(c.action_ids) <= 4 for c in e.trajectory.chunks)
    batch = pack([e.trajectory for e in episodes])
    with torch.no_grad():
        logp = token_logprobs(model, batch)
    sampled = (batch.chunk_id >= 0) & ~batch.chunk_expert[batch.chunk_id.clamp(min=0)]
    assert int(sampled.sum()) > 0
    torch.testing.assert_close(logp[sampled], batch.logp_rollout[sampled], atol=1e-5, rtol=0)


def test_word_tokenizer_round_trip() -> None:
    tok = WordTokenizer(VOCAB)
    ids = tok.encode("edit main")
    assert tok.decode([*ids, tok.eos, *tok.encode("cd beta")]) == "edit main"
    assert tok.encode("sudo make") == [tok.unk, tok.unk]


@dataclass
class _Cli:
    n: int = 1
    rate: float = 0.5
    name: str = "x"
    flag: bool = False
    mode: Literal["a", "b"] = "a"


def test_dataclass_cli() -> None:
    got = parse_args(_Cli, ["--n", "3", "--rate", "0.1", "--flag", "--mode", "b"])
    assert got == _Cli(3, 0.1, "x", True, "b")
    with pytest.raises(SystemExit):
        parse_args(_Cli, ["--mode", "c"])
    with pytest.raises(SystemExit):
        parse_args(_Cli, ["--typo", "1"])


@pytest.mark.parametrize("loss", LOSSES.names())
def test_smoke_every_loss_trains(loss: str) -> None:
    # an untrained model never succeeds, so failures need a reward for RL to have a gradient
    args = Args(loss=loss, failure_reward=-1.0, **TINY)  # type: ignore[arg-type]
    torch.manual_seed(args.seed)
    before = TinyLM(len(WordTokenizer(VOCAB)), args.dim, args.layers, args.heads)
    result = train(args)
    assert result.model is not None
    assert all(math.isfinite(row["loss"]) for row in result.history[1:])
    changed = [
        not torch.equal(a, b)
        for a, b in zip(before.parameters(), result.model.parameters(), strict=True)
    ]
    if loss == "grpo" and all(row["train_success"] == 0 for row in result.history[1:]):
        # all-failing groups: group-normalized advantages are 0, so GRPO must not move
        assert not any(changed) and all(row["loss"] == 0 for row in result.history[1:])
    else:
        assert any(changed)


def test_recipe_filters_infra_errors() -> None:
    result = train(Args(infra_error_rate=0.2, **TINY))  # type: ignore[arg-type]
    st = result.filtering
    assert st.dropped > 0 and st.requested == 2 * 4 * 2
    assert st.kept + st.gave_up == st.requested and st.resampled == st.dropped - st.gave_up


def test_compare_table_and_bench_smoke(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = [
        *("--seeds", "1", "--iters", "1", "--eval-every", "1", "--eval-episodes", "4"),
        *("--starts", "2", "--group-size", "2", "--variants", "ipa,reinforce+il"),
        *("--warm-target", "0.0", "--cache", str(tmp_path / "cache")),
        *("--plot", str(tmp_path / "curves.png"), "--out", str(tmp_path / "table.md")),
    ]
    assert compare_toy.main(argv) == 0
    out = capsys.readouterr().out
    for row in ("| toy | ipa |", "| toy | reinforce+il |", "| warm | ipa |"):
        assert row in out
    assert "`algo.loss=reinforce_il`" in out and "seed 0: 0, " in out  # warm: 0 cloning steps
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert (tmp_path / "table.md").read_text() in out
    # a second call reuses every cached run (and the warm start) and prints the same table
    assert compare_toy.main(argv) == 0
    again = capsys.readouterr().out
    assert "seed=0:" not in again and again.split("| start")[1] == out.split("| start")[1]
    assert bench_packing.main(["--ks", "2", "--repeats", "2", "--trajectories", "2"]) == 0
    assert "per-chunk" in capsys.readouterr().out


@pytest.mark.parametrize("variant", sorted({**compare_toy.VARIANTS, **compare_toy.START_VARIANTS}))
def test_every_compared_method_is_an_ale_train_config(variant: str) -> None:
    """The recipe's methods are `ale train` settings: the `--set` overrides the table prints give
    the same loss and loss settings as the recipe run."""
    cfg = load_config("toy_ipa", compare_toy.algo_overrides(variant))
    assert cfg.algo.loss in LOSSES
    run = compare_toy._run_args(compare_toy.CompareArgs(), variant, "toy", 0, Path("unused"))
    assert (cfg.algo.loss, cfg.algo.loss_config()) == (run.loss, loss_config(run))
    assert cfg.rollout.resample == run.resample


def test_an_il_baseline_trains_through_ale_train(tmp_path: Path) -> None:
    cfg = load_config(
        "toy_ipa",
        [
            *compare_toy.algo_overrides("grpo+il"),
            f"run.out_dir={tmp_path / 'run'}",
            "run.steps=1",
            "run.progress=false",
            "rollout.starts=4",
            "rollout.group_size=2",
            "rollout.scratch_frac=0",
            "eval.every=0",
            "scheduler.envs_per_worker=2",
            "model.layers=1",
        ],
    )
    ale_train(cfg)
    [row] = [r for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if r["step"] == 1]
    assert row["loss/il"] > 0 and math.isfinite(row["loss"])


@pytest.mark.slow
def test_ipa_learns_the_toy_task() -> None:
    """Budget: 120 iterations x 64 episodes on one CPU thread (measured 358-660 s on the shared
    2-core dev machine; 2286 s when it was heavily overloaded). Success is measured from
    scratch (no expert prefix), sampled, on 64 episodes; seeds 0-2 reached 0.98."""
    result = train(Args(seed=0, quiet=True))
    assert result.initial_success <= 0.2
    assert result.final_success >= 0.8, result.history


def test_kv_cache_decode_equals_full_forward() -> None:
    torch.manual_seed(0)
    model = TinyLM(30, dim=32, layers=2, heads=4).eval()
    ids = torch.randint(6, 30, (3, 10))
    att = torch.ones(3, 10, dtype=torch.bool)
    att[0, :4] = False  # left padding, as the sampler lays rows out
    att[1, :2] = False
    with torch.no_grad():
        full = model(ids, att)
        logits, cache = model.prefill(ids[:, :7], att[:, :7])
        torch.testing.assert_close(logits, full[:, :7], atol=1e-5, rtol=0)
        for t in range(7, 10):
            logits, cache = model.decode(ids[:, t : t + 1], cache)
            torch.testing.assert_close(logits[:, 0], full[:, t], atol=1e-5, rtol=0)
    assert cache.next_pos.tolist() == [6, 8, 10]


def test_uncached_sampler_records_the_same_distribution() -> None:
    torch.manual_seed(1)
    tok = WordTokenizer(VOCAB)
    model = TinyLM(len(tok)).eval()
    contexts = [
        [tok.bos, *tok.encode("task : fix the failing test in repo beta"), tok.act],
        [tok.bos, tok.act],
    ]

    def plain(ids: torch.Tensor, att: torch.Tensor) -> torch.Tensor:  # no prefill/decode
        return model(ids, att)

    for fn in (model, plain):
        out = sample_actions(fn, contexts, 4, tok.eos, tok.pad, torch.Generator().manual_seed(0))
        for ctx, (ids, mus) in zip(contexts, out, strict=True):
            assert 1 <= len(ids) <= 4 and (tok.eos not in ids[:-1])
            seq = torch.tensor([ctx + ids])
            with torch.no_grad():
                logp = torch.log_softmax(model(seq, torch.ones_like(seq, dtype=torch.bool)), -1)
            want = [float(logp[0, len(ctx) - 1 + i, t]) for i, t in enumerate(ids)]
            assert mus == pytest.approx(want, abs=1e-5)
