"""The run folder: one append-only ledger, everything else derived from it.

    RUN/
      run.json             what was asked (suite, agent, policy, attempts); checked on resume
      results.jsonl        one line per finished (task, attempt), appended + fsync'd: the truth
      trajectories/ID__aN.jsonl   the agent's record of each attempt
      logs/ID__aN.agent.log, ID__aN.grade.log
      artifacts/ID__aN/    files the task copied out after the agent phase (Harbor's artifacts)
      audit/ID__aN.jsonl   the sandbox's egress audit log: allowed and refused connection attempts
      task_warnings.json   unknown keys in Terminal-Bench / Harbor task files, per task
      predictions.jsonl    SWE-bench predictions, rewritten from results (atomic rename)
      report.json          SWE-bench report fields (+ pass@k), rewritten from results

Resume: a (task, attempt) with a line in results.jsonl is never run again; a torn last line
(the harness was killed mid-write) is ignored and that attempt re-runs, as does an attempt a
signal stopped (`bench.interrupt`: it never gets a line). Derived files are
rebuilt from the ledger, so no line is lost or duplicated whatever was killed when.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal[
    "resolved",
    "unresolved",
    "empty_patch",
    "test_timeout",
    "task_error",
    "agent_error",
    "infra_error",
]
#: test_timeout: the tests ran past their limit (`AttemptResult.test_timeout_s`), a verdict on
#: the attempt, not an error; task_error: the task's files are broken (never retried);
#: infra_error: retried.
ERROR_STATUSES: tuple[Status, ...] = ("task_error", "agent_error", "infra_error")


@dataclass(frozen=True)
class AttemptResult:
    """The outcome of one attempt at one task. Times in seconds."""

    task_id: str
    attempt: int
    status: Status
    reward: float = 0.0
    model_patch: str | None = None
    turns: int = 0
    tokens: int = 0
    duration_s: float = 0.0
    category: str = ""
    error: str | None = None
    infra_retries: int = 0
    tests: dict[str, str] = field(default_factory=dict)
    failure_reason: str | None = None  # swebench's infra-failure signature found in the logs
    failure_tier: str | None = None  # "environment" or "ambiguous" (swebench.harness.infra_failure)
    egress: dict[str, int] = field(default_factory=dict)  # {"allowed": n, "refused": m} attempts
    test_timeout_s: float | None = None  # the limit the tests ran past (status test_timeout)

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"


class RunStore:
    """Reads and appends the ledger of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("trajectories", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.ledger = self.root / "results.jsonl"

    # -- run identity ----------------------------------------------------------------
    def check_or_write_config(self, config: dict[str, Any]) -> None:
        """Record the run's config; on resume, refuse a different one (it would mix runs)."""
        path = self.root / "run.json"
        if path.exists():
            old = json.loads(path.read_text())
            diff = {k: (old.get(k), v) for k, v in config.items() if old.get(k) != v}
            if diff:
                raise ValueError(
                    f"{self.root} holds a run with other settings {diff}; "
                    "use a new --run-dir, or the same settings to resume"
                )
            return
        _atomic_write(path, json.dumps(config, indent=2))

    # -- ledger ----------------------------------------------------------------------
    def results(self) -> list[AttemptResult]:
        """Every complete ledger line (a torn last line is skipped), first wins per attempt."""
        if not self.ledger.exists():
            return []
        seen: dict[tuple[str, int], AttemptResult] = {}
        for line in self.ledger.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            result = AttemptResult(**row)
            seen.setdefault((result.task_id, result.attempt), result)
        return list(seen.values())

    def done(self) -> set[tuple[str, int]]:
        return {(r.task_id, r.attempt) for r in self.results()}

    def append(self, result: AttemptResult) -> None:
        line = json.dumps(asdict(result), sort_keys=True) + "\n"
        with self.ledger.open("a") as f:
            if f.tell() > 0 and not self.ledger.read_bytes().endswith(b"\n"):
                f.write("\n")  # seal a torn line left by a killed writer
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    # -- paths -----------------------------------------------------------------------
    def trajectory_path(self, task_id: str, attempt: int) -> Path:
        return self.root / "trajectories" / f"{_safe(task_id)}__a{attempt}.jsonl"

    def log_path(self, task_id: str, attempt: int, kind: str) -> Path:
        return self.root / "logs" / f"{_safe(task_id)}__a{attempt}.{kind}.log"

    def write_files(self, task_id: str, attempt: int, files: dict[str, bytes]) -> Path:
        """Files a task copied out of its sandbox (Harbor's `artifacts`), under
        `artifacts/ID__aN/<relative path>`; paths that would leave that folder are skipped."""
        root = self.root / "artifacts" / f"{_safe(task_id)}__a{attempt}"
        for rel, data in files.items():
            target = (root / rel).resolve()
            if not target.is_relative_to(root.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return root

    def write_audit(self, task_id: str, attempt: int, events: list[dict[str, Any]]) -> Path:
        """The sandbox's egress audit log (allowed and refused connection attempts) as
        `audit/ID__aN.jsonl`."""
        path = self.root / "audit" / f"{_safe(task_id)}__a{attempt}.jsonl"
        path.parent.mkdir(exist_ok=True)
        _atomic_write(path, "".join(json.dumps(e, sort_keys=True) + "\n" for e in events))
        return path

    def write_json(self, name: str, obj: object) -> Path:
        path = self.root / name
        _atomic_write(path, json.dumps(obj, indent=2, sort_keys=True))
        return path

    def write_jsonl(self, name: str, rows: list[dict[str, Any]]) -> Path:
        path = self.root / name
        _atomic_write(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        return path


def run_id_of(run_dir: Path) -> str:
    """The label value (`ale.bench.run`) marking this run folder's sandboxes, stable across
    resumes: what the run removes at its start and end, and `ale sandbox gc --run` takes."""
    return "run-" + hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:12]


def _safe(task_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in task_id)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
