"""Heuristic filters of `ale data build`, in order, each counting what it drops.

Order (cheap ones first; tokenization happens between `dedup` and `one_stream`):

    errors      status infra_error / task_error / agent_error, or a chunk
                flagged infra_error (`drop_infra_errors`)
    resolved    status resolved (`resolved_only`)
    reward      reward >= `min_reward`
    format      no chunk with a format error (`drop_format_errors`)
    turns       `min_turns` <= policy turns <= `max_turns`
    decontam_ids     task id not in `exclude_ids` / `exclude_ids_file`
    decontam_ngram   the task statement shares fewer than `ngram_hits` word `ngram`-grams with
                     the held-out statements (`heldout_suite`, `heldout_file`)
    dedup       the first episode of each (task id, action sequence) is kept
    one_stream  the episode is one token stream (append-only prompts; see `rl.data.tokens`)
    tokens      `min_tokens` <= tokens <= `max_tokens`
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from envs.core.config import ConfigError, StrictModel
from rl.data.sources import ERROR_STATUSES, SourceEpisode


class FilterConfig(StrictModel):
    """The `filters:` section of a data config (defaults: clean, successful, unique episodes)."""

    drop_infra_errors: bool = True
    """Drop attempts that errored (infra, task, grading, agent errors) or had an infra chunk."""
    resolved_only: bool = True
    """Keep only resolved attempts (trajectory files: reward > 0)."""
    min_reward: float | None = None
    """Keep only episodes with reward >= this (None: no threshold)."""
    drop_format_errors: bool = True
    """Drop episodes with any chunk whose action did not parse."""
    min_turns: int = 1
    max_turns: int | None = None
    """Bounds on the policy's turns (forced submits and replayed chunks not counted)."""
    min_tokens: int = 0
    max_tokens: int | None = None
    """Bounds on the episode's token stream length (prompt, actions and observations)."""
    dedup: bool = True
    """Keep one episode per (task id, identical action sequence)."""
    exclude_ids: list[str] = Field(default_factory=list)
    """Decontamination: task ids never to train on (e.g. a held-out suite's)."""
    exclude_ids_file: str | None = None
    """A file of task ids to exclude, one per line (or a JSON list)."""
    heldout_suite: str | None = None
    """Decontamination by n-gram overlap with this registered suite's task statements."""
    heldout_file: str | None = None
    """... or with these statements: a JSONL file (`problem_statement` / `instruction` /
    `text` field per line) or a text file (statements separated by blank lines)."""
    ngram: int = 8
    """Word n-gram size of the overlap test (lower-cased, whitespace-split)."""
    ngram_hits: int = 1
    """Drop an episode whose statement shares at least this many n-grams with a held-out one."""


@dataclass
class FilterRow:
    """One row of the summary table."""

    name: str
    seen: int
    dropped: int

    @property
    def kept(self) -> int:
        return self.seen - self.dropped


class Summary:
    """Kept / dropped per filter, in order."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.rows: list[FilterRow] = []

    def apply(
        self, name: str, items: list[SourceEpisode], keep: Callable[[SourceEpisode], bool]
    ) -> list[SourceEpisode]:
        kept = [e for e in items if keep(e)]
        self.rows.append(FilterRow(name, len(items), len(items) - len(kept)))
        return kept

    def counts(self) -> dict[str, int]:
        """filter name -> episodes it dropped."""
        return {r.name: r.dropped for r in self.rows}

    @property
    def kept(self) -> int:
        return self.rows[-1].kept if self.rows else self.total

    def table(self) -> str:
        """Markdown: filter, in, dropped, kept (and the total read)."""
        lines = ["| filter | in | dropped | kept |", "|---|---|---|---|"]
        lines += [f"| {r.name} | {r.seen} | {r.dropped} | {r.kept} |" for r in self.rows]
        lines.append(f"\n{self.total} episodes read, {self.kept} kept.")
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "kept": self.kept,
            "filters": [
                {"filter": r.name, "in": r.seen, "dropped": r.dropped, "kept": r.kept}
                for r in self.rows
            ],
        }


def policy_turns(ep: SourceEpisode) -> int:
    """Turns the policy itself took (no forced submit, no replayed expert chunk)."""
    return sum(1 for c in ep.record.chunks if not c.forced and not c.expert)


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """Word n-grams of `text` (lower-cased, whitespace-split); the whole text if shorter."""
    words = text.lower().split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _read_ids(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"filters.exclude_ids_file {path!r} does not exist")
    text = p.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return [str(x) for x in json.loads(text)]
    return [line.strip() for line in text.splitlines() if line.strip()]


def heldout_statements(cfg: FilterConfig) -> list[str]:
    """The held-out task statements decontamination compares against."""
    out: list[str] = []
    if cfg.heldout_suite:
        import envs  # noqa: F401  (registers the shipped suites)
        from envs.core.suites import resolve_suite

        suite = resolve_suite(cfg.heldout_suite)
        out += [suite.load(t).instruction for t in suite.task_ids()]
    if cfg.heldout_file:
        p = Path(cfg.heldout_file)
        if not p.is_file():
            raise ConfigError(f"filters.heldout_file {cfg.heldout_file!r} does not exist")
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".jsonl":
            for line in text.splitlines():
                if line.strip():
                    row = json.loads(line)
                    keys = ("problem_statement", "instruction", "text")
                    out.append(next((str(row[k]) for k in keys if k in row), ""))
        else:
            out += [s.strip() for s in text.split("\n\n") if s.strip()]
    return out


def _overlap(statements: Iterable[str], n: int) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for s in statements:
        grams |= ngrams(s, n)
    return grams


def filter_episodes(
    episodes: list[SourceEpisode], cfg: FilterConfig, summary: Summary
) -> list[SourceEpisode]:
    """The filters up to `dedup` (those that need no tokens), each recorded in `summary`."""
    eps = list(episodes)
    if cfg.drop_infra_errors:
        eps = summary.apply(
            "errors",
            eps,
            lambda e: (
                e.status not in ERROR_STATUSES and not any(c.infra_error for c in e.record.chunks)
            ),
        )
    if cfg.resolved_only:
        eps = summary.apply("resolved", eps, lambda e: e.status == "resolved")
    if cfg.min_reward is not None:
        threshold = cfg.min_reward
        eps = summary.apply("reward", eps, lambda e: e.reward >= threshold)
    if cfg.drop_format_errors:
        eps = summary.apply(
            "format", eps, lambda e: not any(c.format_error for c in e.record.chunks)
        )
    hi = cfg.max_turns
    eps = summary.apply(
        "turns",
        eps,
        lambda e: cfg.min_turns <= policy_turns(e) and (hi is None or policy_turns(e) <= hi),
    )
    excluded = set(cfg.exclude_ids) | set(
        _read_ids(cfg.exclude_ids_file) if cfg.exclude_ids_file else []
    )
    if excluded:
        eps = summary.apply("decontam_ids", eps, lambda e: e.task_id not in excluded)
    held = heldout_statements(cfg)
    if held:
        grams = _overlap(held, cfg.ngram)

        def clean(e: SourceEpisode) -> bool:
            return len(ngrams(e.record.instruction, cfg.ngram) & grams) < cfg.ngram_hits

        eps = summary.apply("decontam_ngram", eps, clean)
    if cfg.dedup:
        seen: set[tuple[str, tuple[str, ...]]] = set()

        def first(e: SourceEpisode) -> bool:
            key = (e.task_id, tuple(e.record.actions))
            if key in seen:
                return False
            seen.add(key)
            return True

        eps = summary.apply("dedup", eps, first)
    return eps
