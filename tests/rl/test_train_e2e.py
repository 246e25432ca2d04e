"""End to end `ale train`: IPA learns the toy task; swe-mini runs ROLLOUT/TRAIN/SYNC in docker."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli.main import app
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
        "--no-progress",
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


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ale_train_swe_mini_tiny_runs_two_cycles_in_docker(tmp_path: Path) -> None:
    reason = _docker_ok()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "train",
            str(REPO / "rl/configs/swe_mini_tiny.yaml"),
            "--out-dir",
            str(out),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    phases = [p["phase"] for p in read_jsonl(out / "phases.jsonl")]
    assert phases == ["ROLLOUT", "TRAIN", "SYNC"] * 2
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
