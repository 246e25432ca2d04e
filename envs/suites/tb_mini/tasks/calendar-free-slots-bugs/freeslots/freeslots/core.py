from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .model import Interval


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of the intervals as sorted, disjoint intervals (touching ones are merged)."""
    ordered = sorted(intervals, key=lambda iv: iv.end)
    merged: list[Interval] = []
    for iv in ordered:
        if merged and iv.start <= merged[-1].end:
            merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def free_slots(busy: Iterable[Interval], window_start: datetime, window_end: datetime,
               min_minutes: float = 0) -> list[Interval]:
    """Gaps in [window_start, window_end] not covered by `busy`, at least `min_minutes` long."""
    clipped = [Interval(max(iv.start, window_start), min(iv.end, window_end))
               for iv in busy if iv.end > window_start and iv.start < window_end]
    slots: list[Interval] = []
    cursor = window_start
    for iv in merge(clipped):
        if iv.start > cursor:
            slots.append(Interval(cursor, iv.start))
        cursor = max(cursor, iv.end)
    return [s for s in slots if s.minutes > min_minutes]
