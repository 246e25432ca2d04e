"""Episodes to build a dataset from: `ale bench run` folders and `ale run` trajectory files.

A bench run folder holds `run.json` (suite, policy), `results.jsonl` (one verdict per task and
attempt: status, reward; the first line of an attempt wins, a torn last line is skipped) and
`trajectories/ID__aN.jsonl` (the agent's record of attempt N). A trajectory file (`ale run
--out`) holds one or more episodes; with no verdict beside it, an episode's status is
`resolved` when its reward is positive, else `unresolved` (or `infra_error` when a chunk failed
for infrastructure reasons).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.trajectory import EpisodeRecord, load_trajectories
from envs.core.config import ConfigError

_ATTEMPT = re.compile(r"__a(\d+)\.jsonl$")
#: Statuses of attempts that did not end as a verdict on the agent's work.
ERROR_STATUSES = frozenset({"infra_error", "task_error", "agent_error"})


@dataclass
class SourceEpisode:
    """One recorded episode and what its run says about it."""

    record: EpisodeRecord
    status: str
    reward: float
    attempt: int
    suite: str
    teacher: str
    """The policy that produced it (`run.json` policy or the trajectory header's)."""
    source: str
    """The file it was read from."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task_id(self) -> str:
        return self.record.task_id


def _results(run_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """(task_id, attempt) -> its verdict line of `results.jsonl` (first line wins)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    path = run_dir / "results.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed harness
        out.setdefault((str(row["task_id"]), int(row["attempt"])), row)
    return out


def _own_status(record: EpisodeRecord) -> str:
    if any(c.infra_error for c in record.chunks):
        return "infra_error"
    return "resolved" if record.reward > 0 else "unresolved"


def read_bench_run(run_dir: Path) -> list[SourceEpisode]:
    """Every attempt of a bench run folder that has both a verdict and a trajectory."""
    config = (
        json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    )
    verdicts = _results(run_dir)
    out = []
    for path in sorted((run_dir / "trajectories").glob("*.jsonl")):
        m = _ATTEMPT.search(path.name)
        if m is None:
            continue
        for record in load_trajectories(path):
            row = verdicts.get((record.task_id, int(m.group(1))))
            if row is None:
                continue  # an attempt still running (or killed) has no verdict yet
            out.append(
                SourceEpisode(
                    record,
                    str(row.get("status", _own_status(record))),
                    float(row.get("reward", record.reward) or 0.0),
                    int(m.group(1)),
                    str(config.get("suite", "")),
                    str(config.get("policy") or record.policy),
                    str(path),
                )
            )
    return out


def read_trajectory_file(path: Path) -> list[SourceEpisode]:
    """Every finished episode of an `ale run` trajectory file (attempts numbered per task)."""
    out: list[SourceEpisode] = []
    seen: dict[str, int] = {}
    for record in load_trajectories(path):
        if not record.finished:
            continue
        attempt = seen.get(record.task_id, 0)
        seen[record.task_id] = attempt + 1
        suite = str(record.info.get("suite") or "")
        out.append(
            SourceEpisode(
                record, _own_status(record), record.reward, attempt, suite, record.policy, str(path)
            )
        )
    return out


def read_sources(paths: list[Path]) -> list[SourceEpisode]:
    """Episodes of every bench run folder, folder of trajectory files, or trajectory file."""
    out: list[SourceEpisode] = []
    for path in paths:
        if path.is_dir() and (path / "results.jsonl").exists():
            out += read_bench_run(path)
        elif path.is_dir():
            files = sorted(path.glob("*.jsonl"))
            if not files:
                raise ConfigError(
                    f"{path}: neither an `ale bench run` folder (results.jsonl) nor a folder "
                    "of trajectory files (*.jsonl)"
                )
            for f in files:
                out += read_trajectory_file(f)
        elif path.is_file():
            out += read_trajectory_file(path)
        else:
            raise ConfigError(f"{path} does not exist: give bench run folders or trajectory files")
    return out
