"""End to end `ale train`: IPA learns the toy task; swe-mini runs ROLLOUT/TRAIN/SYNC in docker;
tb-mini trains from oracle prefixes through the same rollout path as the toy task."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli.main import app
from rl.accounting import ACTIVITIES
from rl.records import read_jsonl

REPO = Path(__file__).resolve().parents[2]


def test_ale_train_cli_smoke_and_strict_config(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  learning_rate: 0.1\n")
    res = runner.invoke(app, ["train", str(bad)])
    assert res.exit_code == 2 and "unknown key 'trainer.learning_rate'" in res.output
    out = tmp_path / "run"
    args = [
        "train",
        str(REPO / "rl/configs/toy_ipa.yaml"),
        "--out-dir",
        str(out),
        "--quiet",
        "--set",
        "run.steps=2",
        "--set",
        "rollout.starts=2",
        "--set",
        "rollout.group_size=2",
        "--set",
        "eval.episodes=4",
        "--set",
        "eval.every=1",
        "--set",
        "scheduler.envs_per_worker=2",
        "--set",
        "model.layers=1",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "steps 0->2" in res.output
    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 1, 2] and "eval_success" in rows[-1]
    # --quiet: plain lines, one per step and per eval, then the summary naming the files
    lines = res.output.splitlines()
    assert [ln.split(" reward")[0] for ln in lines if ln.startswith("step ")] == [
        "step 1/2",
        "step 2/2",
    ]
    assert sum(ln.startswith("eval step ") for ln in lines) == 3 and "\x1b[" not in res.output
    assert f"files: {out} (metrics.jsonl, phases.jsonl, tb/, curves.png, checkpoints/)" in lines
    # every step's wall time split over the phases (each <= 1, with 'other' summing to 1)
    for r in rows[1:]:
        phases = [r[f"frac/{a}"] for a in ACTIVITIES if a != "other"]
        assert all(0 <= f <= 1 for f in phases) and sum(phases) <= 1 + 1e-9
        assert abs(sum(phases) + r["frac/other"] - 1) < 1e-6
        assert r["frac/generation"] > 0 and r["frac/env_wait"] > 0 and r["frac/train"] > 0
        assert r["cores/generation"] > 0 and r["cores/all"] > 0
    # a second run into the same folder without --resume is refused
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--resume" in res.output


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_ale_train_toy_ipa_learns(tmp_path: Path) -> None:
    """The shipped config: 120 steps x 64 episodes (about 2-3 min on an idle 2-core machine).
    Same threshold as the IPA issue: success from scratch <= 20% before, >= 80% after."""
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        ["train", str(REPO / "rl/configs/toy_ipa.yaml"), "--out-dir", str(out), "--no-progress"],
    )
    assert res.exit_code == 0, res.output
    rows = read_jsonl(out / "metrics.jsonl")
    evals = [r["eval_success"] for r in rows if "eval_success" in r]
    assert evals[0] <= 0.2, evals
    assert evals[-1] >= 0.8, evals
    assert (out / "curves.png").exists()


def _docker_ok() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # any failure means: no usable daemon
        return f"no docker daemon: {exc}"
    if not (REPO / "envs/suites/swe_mini/data/swe-mini.jsonl").exists():
        return "swe-mini data not generated (envs/suites/swe_mini/data/swe-mini.jsonl)"
    return None


def _train_two_cycles_in_docker(config: str, tmp_path: Path) -> Path:
    """`ale train rl/configs/CONFIG` (two steps): the run folder, after checking the phases."""
    reason = _docker_ok()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app, ["train", str(REPO / "rl/configs" / config), "--out-dir", str(out), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    phases = [p["phase"] for p in read_jsonl(out / "phases.jsonl")]
    assert phases == ["ROLLOUT", "TRAIN", "SYNC"] * 2
    return out


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ale_train_swe_mini_tiny_runs_two_cycles_in_docker(tmp_path: Path) -> None:
    out = _train_two_cycles_in_docker("swe_mini_tiny.yaml", tmp_path)
    trained = read_jsonl(out / "trained.jsonl")
    assert [t["trainer_version"] for t in trained] == [0, 1]
    assert all(v == t["trainer_version"] for t in trained for v in t["versions"])
    rollouts = read_jsonl(out / "rollouts.jsonl")
    assert len(rollouts) == 4 and all(r["chunks"] >= 1 for r in rollouts)
    # every episode ran in its own docker sandbox (container ids, not the toy's "toy")
    sandboxes = [s for r in rollouts for s in r["sandboxes"]]
    assert len(set(sandboxes)) >= 4 and "toy" not in sandboxes
    assert sorted(p.name for p in (out / "checkpoints").glob("step_*")) == [
        "step_000001",
        "step_000002",
    ]


def test_toy_and_sandbox_tasks_share_one_rollout_path() -> None:
    """Both task kinds are `AgentRollouts` and override none of its rollout methods: `ale train`
    runs the toy task and a sandboxed suite through the same code (the agents' loop)."""
    from rl.rollout import AgentRollouts
    from rl.sandbox_task import SandboxTask
    from rl.toy.task import ToyTask

    for cls in (ToyTask, SandboxTask):
        assert issubclass(cls, AgentRollouts)
        for name in ("items", "prefetch", "collect", "run_items", "evaluate"):
            assert getattr(cls, name) is getattr(AgentRollouts, name), (cls, name)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ale_train_tb_mini_from_oracle_prefixes_in_docker(tmp_path: Path) -> None:
    """The shipped tb-mini config: the agents' tiny model, two steps, every episode started at
    its expert's last chunk (the reference solution replayed at reset, `resample: rollback`),
    imitation on the replayed chunks, one docker sandbox per episode, the next step's sandboxes
    prefetched during TRAIN."""
    out = _train_two_cycles_in_docker("tb_mini_oracle.yaml", tmp_path)
    rollouts = read_jsonl(out / "rollouts.jsonl")
    assert len(rollouts) == 4
    # anchored after the replayed prefix: expert chunks + at least one sampled chunk each
    assert all(r["anchor"] >= 2 and r["chunks"] >= r["anchor"] for r in rollouts)
    sandboxes = [s for r in rollouts for s in r["sandboxes"]]
    assert len(set(sandboxes)) == 4 and "toy" not in sandboxes
    assert [r["timings"]["prefetched"] for r in rollouts] == [False, False, True, True]
    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["loss/il"] > 0 and math.isfinite(m["loss"]) for m in metrics)
    # the rollback curriculum's mean anchor is logged; it only moves back (after successes)
    anchors = [m["anchor_mean"] for m in metrics]
    assert max(r["anchor"] for r in rollouts) >= anchors[0] >= anchors[1] >= 1
