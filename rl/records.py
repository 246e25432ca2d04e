"""Rollout records and the run ledger (append-only JSONL) that the acceptance tests audit.

Every rollout gets an id (`rid`) when it is produced. Files in the run folder:
- `rollouts.jsonl`: one line per produced rollout (rid, policy version, reward, task, ...);
- `trained.jsonl`: one line per TRAIN step (step, trainer version before it, rids and their
  versions);
- `dropped.jsonl`: rollouts discarded as too stale (rid, version, trainer version);
- `events.jsonl`: start / resume markers. A resume from the checkpoint of step N voids the
  lines of earlier attempts with step > N (that work died with the process).
Each line carries `attempt` (0 for the first run, +1 per resume).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rl.packing import Chunk, Trajectory


@dataclass
class Rollout:
    """One episode ready for training: its trajectory plus bookkeeping."""

    rid: int
    version: int
    """Oldest policy version that sampled any of its chunks."""
    trajectory: Trajectory
    reward: float
    task_id: str
    anchor: int = 1
    batch: int = 0
    """The producer batch (the data cursor) it came from, 1-based."""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.reward > 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rollout:
        t = dict(data["trajectory"])
        t["chunks"] = [Chunk(**c) for c in t["chunks"]]
        return cls(**{**data, "trajectory": Trajectory(**t)})


class Ledger:
    """Appends records to the run folder; every line is flushed and fsynced."""

    def __init__(self, run_dir: Path, attempt: int) -> None:
        self.dir, self.attempt = run_dir, attempt
        run_dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, Any] = {}

    def write(self, name: str, record: dict[str, Any]) -> None:
        f = self._files.get(name)
        if f is None:
            f = self._files[name] = open(  # noqa: SIM115  (kept open, closed in close())
                self.dir / f"{name}.jsonl", "a", encoding="utf-8"
            )
        f.write(json.dumps({"attempt": self.attempt, **record}) + "\n")
        f.flush()
        os.fsync(f.fileno())

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Lines of a JSONL file; a torn last line (killed mid-write) is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def effective(
    run_dir: Path, name: str, step_key: str = "step", resume_key: str = "from_step"
) -> list[dict[str, Any]]:
    """Lines of `name`.jsonl that survived resumes: a resume by attempt a whose `resume_key`
    is N voids the lines of attempts < a whose `step_key` is > N. Rollout lines use
    ("batch", "from_batch"): the producer cursor, not the train step."""
    resumes = [e for e in read_jsonl(run_dir / "events.jsonl") if e.get("event") == "resume"]
    lines = read_jsonl(run_dir / f"{name}.jsonl")
    kept = []
    for line in lines:
        void = any(
            r["attempt"] > line["attempt"] and line.get(step_key, -1) > r[resume_key]
            for r in resumes
        )
        if not void:
            kept.append(line)
    return kept
