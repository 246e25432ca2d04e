"""Context policy: which messages the policy sees each turn, within a token budget.

The history is `[system, task, (assistant, observation) * n]`. The prompt keeps the system
and task messages, an optional summary of dropped turns, and the last `keep_last_turns`
turns; when `max_prompt_tokens` is set, older turns are dropped until the prompt fits
(counted with the policy's own tokenizer when it has `count_tokens`, else ~4 chars/token).
Observations are cut to head + tail when added (`cut_middle`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.config import ContextPolicy

Messages = list[dict[str, Any]]
TokenCounter = Callable[[Messages], int]


def cut_middle(text: str, limit: int, head_fraction: float = 0.5) -> tuple[str, bool]:
    """Keep the head and tail of `text` within `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text, False
    marker = "\n[... {n} characters cut ...]\n"
    room = max(limit - len(marker.format(n=len(text))), 2)
    head = int(room * head_fraction)
    tail = room - head
    cut = len(text) - head - tail
    return text[:head] + marker.format(n=cut) + (text[-tail:] if tail else ""), True


def estimate_tokens(messages: Messages) -> int:
    """A tokenizer-free estimate: ceil(chars / 4) + 4 per message."""
    return sum(math.ceil(len(str(m.get("content") or "")) / 4) + 4 for m in messages)


@dataclass
class ContextReport:
    """What the context policy did for one prompt (stored in `ChunkRecord.context`)."""

    total_turns: int = 0
    kept_turns: list[int] = field(default_factory=list)
    dropped_turns: int = 0
    summarized_turns: int = 0
    prompt_tokens: int = 0
    over_budget: bool = False

    def as_dict(self) -> dict[str, Any]:
        kept = self.kept_turns
        return {
            "total_turns": self.total_turns,
            "kept_first": kept[0] if kept else None,
            "kept_last": kept[-1] if kept else None,
            "kept": len(kept),
            "dropped_turns": self.dropped_turns,
            "summarized_turns": self.summarized_turns,
            "prompt_tokens": self.prompt_tokens,
            "over_budget": self.over_budget,
        }


def build_prompt(
    history: Messages,
    cfg: ContextPolicy,
    count: TokenCounter | None = None,
    summary: str | None = None,
    summarized_turns: int = 0,
) -> tuple[Messages, ContextReport]:
    """The messages to send for `history` (see module doc); never mutates `history`.

    `summary` (if given) covers the first `summarized_turns` turns and is inserted as a user
    message after the task when some of those turns are dropped.
    """
    count = count or estimate_tokens
    head, body = history[:2], history[2:]
    turns = [body[i : i + 2] for i in range(0, len(body), 2)]
    n = len(turns)
    start = max(0, n - cfg.keep_last_turns)

    def assemble(first: int) -> Messages:
        extra: Messages = []
        if summary and first > 0:
            extra = [
                {
                    "role": "user",
                    "content": f"Summary of the {summarized_turns} earliest turns:\n{summary}",
                }
            ]
        return head + extra + [m for t in turns[first:] for m in t]

    prompt = assemble(start)
    tokens = count(prompt)
    budget = cfg.max_prompt_tokens
    if budget is not None and tokens > budget:
        # the token count only shrinks as turns are dropped: binary-search the fewest drops
        lo, hi = start + 1, n  # answer in [lo, hi]; dropping all n turns is the floor
        while lo < hi:
            mid = (lo + hi) // 2
            if count(assemble(mid)) <= budget:
                hi = mid
            else:
                lo = mid + 1
        start = lo
        prompt = assemble(start)
        tokens = count(prompt)
    report = ContextReport(
        total_turns=n,
        kept_turns=list(range(start, n)),
        dropped_turns=start,
        summarized_turns=summarized_turns if summary and start else 0,
        prompt_tokens=tokens,
        over_budget=cfg.max_prompt_tokens is not None and tokens > cfg.max_prompt_tokens,
    )
    return prompt, report


def turns_text(history: Messages, first: int, last: int) -> str:
    """Turns [first, last) of `history` as plain text, for a summary prompt."""
    body = history[2:]
    lines = []
    for m in body[2 * first : 2 * last]:
        lines.append(f"{m.get('role')}: {m.get('content')}")
    return "\n".join(lines)
