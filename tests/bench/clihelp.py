"""Helpers for the CLI tests: run `ale` in-process or as a process, read JSONL, find sandboxes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.cli.run_cmds import run_id_of
from bench.tasks import RUN_LABEL

REPO = Path(__file__).resolve().parents[2]


def ale(*args: str, env: dict[str, str] | None = None) -> str:
    """`ale ARGS` as a separate process (python -m bench.cli.main); returns stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli.main", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=900,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"ale {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def ale_here(*args: str) -> str:
    """`ale ARGS` in this process (no interpreter start-up); returns its output."""
    from typer.testing import CliRunner

    from bench.cli.main import app

    result = CliRunner().invoke(app, list(args))
    if result.exit_code != 0:
        raise AssertionError(
            f"ale {' '.join(args)} exited {result.exit_code}:\n{result.output}"
        ) from result.exception
    return result.output


def jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_json(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text()))


def our_sandboxes(run_dir: Path) -> list[str]:
    """Docker sandboxes still carrying this run's label."""
    from envs.rock.gc import list_docker

    run_id = run_id_of(run_dir)
    return [r.id for r in list_docker() if r.labels.get(RUN_LABEL) == run_id]
