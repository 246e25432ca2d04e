"""kill -9 during `ale train`, then `--resume`: nothing lost, nothing trained twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rl.checkpoint import latest_checkpoint
from rl.records import effective, read_jsonl

REPO = Path(__file__).resolve().parents[2]
#: Steps of the killed run: far more than it can train before the test sees a killable state,
#: so the kill never races the end of training (the resumed run is told to stop soon after).
LONG = 100_000


def _config(tmp_path: Path, mode: str) -> Path:
    cfg = {
        "run": {
            "out_dir": str(tmp_path / "run"),
            "steps": LONG,
            "checkpoint_every": 2,
            "progress": False,
        },
        "model": {"dim": 32, "layers": 1, "heads": 2},
        "scheduler": {"mode": mode, "workers": 2, "envs_per_worker": 4, "max_staleness": 1},
        "rollout": {"starts": 4, "group_size": 2},
        "trainer": {"micro_batch": 4, "update_epochs": 1},
        "eval": {"every": 0},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _ale(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli.main", "train", *args, "--no-progress"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["colocated", "disaggregated"])
def test_kill_dash_nine_then_resume(tmp_path: Path, mode: str) -> None:
    cfg = _config(tmp_path, mode)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        _ale(str(cfg)),
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Kill on an event, not a clock: a checkpoint exists and a step after it was trained. The
    # run is frozen (SIGSTOP) while the test looks, so the state cannot move on between the look
    # and the kill; when the state is not there yet, the run goes on (SIGCONT). The run has
    # LONG steps, so it is still training whenever the test looks, however slowly it polls.
    ckpt_step = killed_at = None
    deadline = time.monotonic() + 600
    while killed_at is None:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "training reached no killable state in 600 s"
        os.killpg(proc.pid, signal.SIGSTOP)
        steps = [t["step"] for t in read_jsonl(run / "trained.jsonl")]
        ckpt = latest_checkpoint(run / "checkpoints")
        ckpt_step = json.loads((ckpt / "meta.json").read_text())["step"] if ckpt else None
        if ckpt_step is not None and steps and ckpt_step < max(steps):
            killed_at = max(steps)
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(0.05)
    proc.wait()
    assert killed_at is not None and ckpt_step is not None and killed_at < LONG
    assert max(t["step"] for t in read_jsonl(run / "trained.jsonl")) == killed_at

    # the resumed run stops two steps after the last step the killed one trained
    total = killed_at + 2
    done = subprocess.run(
        _ale(str(cfg), "--resume", "--set", f"run.steps={total}"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = read_jsonl(run / "events.jsonl")
    assert [e["event"] for e in events] == ["start", "resume"]
    resumed_from = events[1]["from_step"]
    assert resumed_from == ckpt_step and resumed_from % 2 == 0 and resumed_from < killed_at
    # work of the killed process after its last checkpoint was voided, then redone
    voided = [
        t
        for t in read_jsonl(run / "trained.jsonl")
        if t["attempt"] == 0 and t["step"] > resumed_from
    ]
    assert voided, "nothing was trained after the checkpoint before the kill"

    trained = effective(run, "trained")
    assert [t["step"] for t in trained] == list(range(1, total + 1))
    assert [t["trainer_version"] for t in trained] == list(range(total))
    ids = [rid for t in trained for rid in t["rids"]]
    assert len(ids) == len(set(ids)), "a rollout was trained twice"
    produced = {r["rid"] for r in effective(run, "rollouts", "batch", "from_batch")}
    dropped = {d["rid"] for d in effective(run, "dropped")}
    assert produced == set(ids) | dropped, "a rollout was lost (neither trained nor dropped)"
    batches = sorted({r["batch"] for r in effective(run, "rollouts", "batch", "from_batch")})
    assert batches == list(range(1, len(batches) + 1)), "a rollout batch was skipped"
    assert produced == set(range(8 * len(batches)))
    lags = [t["trainer_version"] - v for t in trained for v in t["versions"]]
    assert max(lags) <= 1
