"""The egress audit log: one JSON line per allowed or refused connection attempt.

Written by the sandbox's egress helper (`envs.rock.egress.helper`), read by the driver
(`Sandbox.audit()`), copied into run folders by the bench harness. Event fields:

    time       float, seconds since the epoch (when the attempt was decided)
    sandbox    the sandbox id
    kind       "connect" (HTTP CONNECT tunnel), "http" (plain HTTP request), "dns" (a query)
    dest       "host:port" (dns: the name asked for)
    verdict    "allowed" or "refused"
    reason     why (refused: the rule that failed; allowed: "allowed")
    bytes_out  bytes the sandbox sent to the destination (0 when refused)
    bytes_in   bytes the destination sent back
    duration_s how long the connection lasted

The log is capped at `MAX_EVENTS` lines (a sandbox cannot fill the host's disk by spamming
refused attempts); past the cap one `overflow` line counts what was left out, written when the
helper exits.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_EVENTS = 20_000
MAX_READ_BYTES = 32 << 20  # what `read_audit` reads at most


@dataclass(frozen=True)
class AuditEvent:
    """One decided connection attempt (see the module docstring for the fields)."""

    time: float
    sandbox: str
    kind: str
    dest: str
    verdict: str
    reason: str = ""
    bytes_out: int = 0
    bytes_in: int = 0
    duration_s: float = 0.0


class AuditLog:
    """Appends events to a JSONL file, line-buffered, thread-safe, capped."""

    def __init__(self, path: Path, sandbox: str) -> None:
        self.path = path
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self._written = 0
        self._dropped = {"allowed": 0, "refused": 0}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def record(self, kind: str, dest: str, verdict: str, reason: str = "", **extra: Any) -> None:
        event = AuditEvent(time.time(), self.sandbox, kind, dest, verdict, reason, **extra)
        with self._lock:
            if self._written >= MAX_EVENTS:
                self._dropped[verdict] = self._dropped.get(verdict, 0) + 1
                return
            self._written += 1
            self._file.write(json.dumps(asdict(event)) + "\n")

    def close(self) -> None:
        with self._lock:
            if self._file.closed:
                return
            if any(self._dropped.values()):
                line = {"time": time.time(), "sandbox": self.sandbox, "kind": "overflow"}
                self._file.write(json.dumps({**line, **self._dropped}) + "\n")
            self._file.close()


def read_audit(path: Path) -> list[dict[str, Any]]:
    """The events of an audit file ([] when there is none); a torn last line is skipped."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return []
    events = []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def count(events: Iterable[dict[str, Any]]) -> dict[str, int]:
    """{"allowed": n, "refused": m} over events (overflow lines included)."""
    out = {"allowed": 0, "refused": 0}
    for e in events:
        if e.get("kind") == "overflow":
            out["allowed"] += int(e.get("allowed", 0))
            out["refused"] += int(e.get("refused", 0))
        elif e.get("verdict") in out:
            out[str(e["verdict"])] += 1
    return out
