"""Trajectory records: JSONL, append-only, flushed after every chunk, fsynced per episode.

File layout (one JSON object per line, `"type"` says which)::

    {"type": "header", "task_id", "policy", "config", "instruction", "info", "started_at"}
    {"type": "chunk", "index", "prefix_len", "messages_new", "response", "prompt_ids", ...}
    ...
    {"type": "end", "reward", "grade", "terminated", "truncated", "stop_reason", "timings"}

Messages are stored as a delta: `prefix_len` messages are shared with the previous chunk's
prompt messages, `messages_new` are the rest (a 200-turn episode stays linear in size); the
loader rebuilds every chunk's full `messages`. A torn last line (the writer was killed) is
ignored, so every finished chunk of a killed run is readable.

Token ids: `prompt_ids` are exactly what the engine was fed, `response_ids` exactly what it
sampled, `logprobs[i]` the rollout engine's log-prob of `response_ids[i]`. `loss_mask` marks
policy tokens (1) vs prompt/tool/observation tokens (0) over `prompt_ids + response_ids`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from agents.errors import AgentError


@dataclass
class ChunkRecord:
    """One chunk: the prompt, the policy's turn (text and tokens), and what the env returned."""

    index: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    response: str = ""
    prompt_ids: list[int] | None = None
    response_ids: list[int] | None = None
    logprobs: list[float] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    action: str = ""
    tool: str | None = None
    observation: str = ""
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    format_error: bool = False
    infra_error: bool = False
    exit_code: int | None = None
    finish_reason: str = "stop"
    usage: dict[str, int] = field(default_factory=dict)
    policy_version: int | None = None
    prompt_mode: str | None = None
    wall_s: float = 0.0
    policy_s: float = 0.0
    env_s: float = 0.0
    #: messages the context policy dropped or cut before this chunk (see agents.context).
    context: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    forced: bool = False
    #: replayed from a demonstration at reset (expert-prefix resampling), not sampled.
    expert: bool = False

    @property
    def loss_mask(self) -> list[int]:
        """Over `prompt_ids + response_ids`: 1 for sampled policy tokens, 0 for the prompt."""
        return [0] * len(self.prompt_ids or []) + [1] * len(self.response_ids or [])


@dataclass
class EpisodeRecord:
    """One episode: header facts, its chunks, and the outcome (reward, grade, timings)."""

    task_id: str
    policy: str
    chunks: list[ChunkRecord] = field(default_factory=list)
    reward: float = 0.0
    grade: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    config: str = ""
    instruction: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    terminated: bool = False
    truncated: bool = False
    stop_reason: str | None = None
    finished: bool = False
    started_at: float = 0.0

    @property
    def actions(self) -> list[str]:
        """The env actions of every chunk, replayable via `reset(options={"replay": ...})`."""
        return [c.action for c in self.chunks]

    @property
    def patch(self) -> str:
        """The model patch SWE tasks report in `grade["report"]["model_patch"]` ("" if none)."""
        report = (self.grade or {}).get("report") or {}
        return str(report.get("model_patch") or "")

    def token_stream(self) -> tuple[list[int], list[int], list[float | None]] | None:
        """The episode as one token sequence when every chunk's prompt extends the previous
        chunk's prompt + response (append-only prompts): (ids, mask, logprobs), mask 1 on
        sampled tokens. None if some chunk has no ids or re-rendered its prompt."""
        ids: list[int] = []
        mask: list[int] = []
        lps: list[float | None] = []
        for c in self.chunks:
            if c.prompt_ids is None or c.response_ids is None:
                return None
            if c.prompt_ids[: len(ids)] != ids:
                return None
            new = c.prompt_ids[len(ids) :]
            ids += new + c.response_ids
            mask += [0] * len(new) + [1] * len(c.response_ids)
            step: list[float | None] = (
                list(c.logprobs) if c.logprobs else [None] * len(c.response_ids)
            )
            lps += [None] * len(new) + step
        return ids, mask, lps


_CHUNK_FIELDS = {f.name for f in fields(ChunkRecord)}
_EPISODE_FIELDS = {f.name for f in fields(EpisodeRecord)}


def _common_prefix(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class TrajectoryWriter:
    """Append-only JSONL writer. Every `write_*` call is flushed before returning (a reader, or
    a killed process, sees every line written so far: it is in the page cache); the file is
    fsynced once, when the episode ends (`write_end`) or the writer closes, not per chunk.

    Crash guarantee: what survives a host crash is decided by the harness's ledger
    (`bench.store`, results.jsonl, fsynced per finished attempt), not by the trajectory. An
    attempt without a ledger row is re-run on resume from a fresh sandbox and its trajectory
    file is rewritten from scratch, so a trajectory cut short by a crash (lost tail, torn last
    line) is never read as a finished one; a finished attempt's trajectory was fsynced before
    its ledger row was written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = self.path.open("a", encoding="utf-8", errors="backslashreplace")
        self._prev_messages: list[dict[str, Any]] = []

    def _emit(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            raise AgentError(f"trajectory {self.path} is closed")
        self._fh.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()

    def sync(self) -> None:
        """fsync what was written (once per episode: `write_end` and `close` call it)."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def write_header(self, record: EpisodeRecord) -> None:
        """Start an episode (header line)."""
        self._prev_messages = []
        self._emit(
            {
                "type": "header",
                "task_id": record.task_id,
                "policy": record.policy,
                "config": record.config,
                "instruction": record.instruction,
                "info": record.info,
                "started_at": record.started_at or time.time(),
            }
        )

    def write_chunk(self, chunk: ChunkRecord) -> None:
        """Append one finished chunk; messages are stored as a delta to the previous chunk's."""
        obj = asdict(chunk)
        messages = obj.pop("messages")
        prefix = _common_prefix(self._prev_messages, messages)
        obj.update(type="chunk", prefix_len=prefix, messages_new=messages[prefix:])
        self._emit(obj)
        self._prev_messages = messages

    def write_end(self, record: EpisodeRecord) -> None:
        """Close the episode with its outcome."""
        self._emit(
            {
                "type": "end",
                "reward": record.reward,
                "grade": record.grade,
                "terminated": record.terminated,
                "truncated": record.truncated,
                "stop_reason": record.stop_reason,
                "timings": record.timings,
            }
        )
        self.sync()

    def close(self) -> None:
        """fsync and close the file; safe to call twice."""
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i >= len(lines) - 2:  # torn last line of a killed writer: drop it
                break
            raise AgentError(f"{path}:{i + 1}: not a trajectory line ({exc.msg})") from exc
    return out


def load_trajectories(path: str | os.PathLike[str]) -> list[EpisodeRecord]:
    """Every episode in a trajectory file (several episodes may share one file)."""
    path = Path(path)
    episodes: list[EpisodeRecord] = []
    prev: list[dict[str, Any]] = []
    for obj in _parse_lines(path):
        kind = obj.pop("type", None)
        if kind == "header":
            obj.pop("started_at", None)
            episodes.append(EpisodeRecord(**{k: v for k, v in obj.items() if k in _EPISODE_FIELDS}))
            prev = []
        elif not episodes:
            raise AgentError(f"{path}: a {kind!r} line comes before any header")
        elif kind == "chunk":
            messages = prev[: obj.pop("prefix_len", 0)] + obj.pop("messages_new", [])
            chunk = ChunkRecord(
                messages=messages, **{k: v for k, v in obj.items() if k in _CHUNK_FIELDS}
            )
            episodes[-1].chunks.append(chunk)
            prev = messages
        elif kind == "end":
            ep = episodes[-1]
            ep.reward, ep.grade = float(obj.get("reward") or 0.0), obj.get("grade")
            ep.terminated, ep.truncated = bool(obj.get("terminated")), bool(obj.get("truncated"))
            ep.stop_reason, ep.timings, ep.finished = (
                obj.get("stop_reason"),
                obj.get("timings") or {},
                True,
            )
    return episodes


def load_trajectory(path: str | os.PathLike[str]) -> EpisodeRecord:
    """The (last) episode in `path`; a torn last line is tolerated, `finished` says if it ended."""
    episodes = load_trajectories(path)
    if not episodes:
        raise AgentError(f"{path}: no episode header; is this a trajectory file?")
    return episodes[-1]


def to_prediction(record: EpisodeRecord, model_name: str) -> dict[str, str]:
    """A SWE-bench prediction: {"instance_id", "model_name_or_path", "model_patch"}."""
    return {
        "instance_id": record.task_id,
        "model_name_or_path": model_name,
        "model_patch": record.patch,
    }
