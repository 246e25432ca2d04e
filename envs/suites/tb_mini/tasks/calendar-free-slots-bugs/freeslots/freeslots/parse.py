from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .model import Interval


def parse_offset(text: str) -> timedelta:
    """'+01:00' -> 1 hour, '-05:30' -> -5.5 hours, 'Z' -> 0."""
    if text in ("Z", "z"):
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    hours, minutes = text[1:].split(":")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def parse_timestamp(text: str) -> datetime:
    """'2024-03-04T09:00+01:00' -> the same instant as an aware UTC datetime."""
    local = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
    offset = parse_offset(text[16:])
    return (local + offset).replace(tzinfo=timezone.utc)


def parse_calendar(text: str) -> list[Interval]:
    events = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        start, end, *title = line.split()
        if " ".join(title).startswith("[cancelled]"):
            continue
        events.append(Interval(parse_timestamp(start), parse_timestamp(end)))
    return events
