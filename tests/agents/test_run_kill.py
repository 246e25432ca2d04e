"""`ale run` killed with SIGKILL mid-episode leaves every finished chunk readable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agents.errors import AgentError
from agents.trajectory import EpisodeRecord, load_trajectory

REPO = Path(__file__).resolve().parents[2]


def _wait_chunks(path: Path, n: int, proc: subprocess.Popen[bytes]) -> EpisodeRecord:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ale run exited early"
        try:
            rec = load_trajectory(path)
            if len(rec.chunks) >= n:
                return rec
        except (FileNotFoundError, AgentError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"no {n} chunks in {path}")


def test_kill_9_mid_episode_keeps_finished_chunks(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # the human policy reads turns from stdin: the episode waits for turn 3 when we kill it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.cli.main",
            "run",
            "--env",
            "ale/ToyShell-v0",
            "--task",
            "alpha-main",
            "--agent",
            "toy",
            "--policy",
            "human",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(b"cd alpha\n")
        proc.stdin.flush()
        _wait_chunks(out, 1, proc)
        proc.stdin.write(b"test\n")
        proc.stdin.flush()
        _wait_chunks(out, 2, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    rec = load_trajectory(out)
    assert not rec.finished and rec.task_id == "alpha-main" and rec.policy == "human"
    assert [c.action for c in rec.chunks] == ["cd alpha", "test"]
    assert [c.observation for c in rec.chunks] == ["ok", "tests FAIL in main"]
    assert rec.chunks[1].messages[-1]["content"] == "ok"
