from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from .core import free_slots
from .parse import parse_calendar, parse_offset


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m freeslots")
    parser.add_argument("--date", required=True)
    parser.add_argument("--tz", required=True)
    parser.add_argument("--start", default="09:00")
    parser.add_argument("--end", default="17:00")
    parser.add_argument("--min", type=float, default=0)
    parser.add_argument("calendars", nargs="+")
    args = parser.parse_args()
    tz = timezone(parse_offset(args.tz))
    start = datetime.strptime(f"{args.date}T{args.start}", "%Y-%m-%dT%H:%M").replace(tzinfo=tz)
    end = datetime.strptime(f"{args.date}T{args.end}", "%Y-%m-%dT%H:%M").replace(tzinfo=tz)
    busy = [iv for cal in args.calendars for iv in parse_calendar(Path(cal).read_text())]
    slots = free_slots(busy, start, end, args.min)
    if not slots:
        print("no free slot")
    for s in slots:
        print(f"{s.start.astimezone(tz):%H:%M}-{s.end.astimezone(tz):%H:%M}")


if __name__ == "__main__":
    main()
