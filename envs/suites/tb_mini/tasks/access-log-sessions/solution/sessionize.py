#!/usr/bin/env python3
"""Sessionize nginx combined logs (rotated set) into /app/report."""
import csv
import gzip
import ipaddress
import json
import re
import statistics
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

LOGS = Path(sys.argv[1] if len(sys.argv) > 1 else "/app/logs")
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "/app/report")
LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$')
PRIVATE = ipaddress.ip_network("10.0.0.0/8")


def ordered_files():
    def age(p):
        m = re.fullmatch(r"access\.log(?:\.(\d+))?(?:\.gz)?", p.name)
        return int(m.group(1) or 0) if m else None
    files = [p for p in LOGS.iterdir() if age(p) is not None]
    return sorted(files, key=age, reverse=True)


def read(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


malformed = excluded = 0
requests = []
for path in ordered_files():
    for line in read(path):
        if not line.strip():
            continue
        m = LINE.match(line)
        if not m:
            malformed += 1
            continue
        ip, ts, req, status, size, _ref, ua = m.groups()
        try:
            when = datetime.strptime(ts, "%d/%b/%Y:%H:%M:%S %z").astimezone(timezone.utc)
            addr = ipaddress.ip_address(ip)
        except ValueError:
            malformed += 1
            continue
        if addr in PRIVATE or re.search(r"bot|spider", ua, re.IGNORECASE):
            excluded += 1
            continue
        parts = req.split()
        target = parts[1] if len(parts) >= 2 else ""
        requests.append((when, ip, ua, target.split("?")[0], 0 if size == "-" else int(size)))

requests.sort(key=lambda r: r[0])
open_sessions = {}
sessions = []
for when, ip, ua, path, size in requests:
    s = open_sessions.get((ip, ua))
    if s is None or (when - s["end"]).total_seconds() > 1800:
        s = {"ip": ip, "ua": ua, "start": when, "end": when, "requests": 0, "bytes": 0, "landing": path}
        open_sessions[(ip, ua)] = s
        sessions.append(s)
    s["end"] = when
    s["requests"] += 1
    s["bytes"] += size

sessions.sort(key=lambda s: (s["start"], s["ip"], s["ua"]))
OUT.mkdir(parents=True, exist_ok=True)
fmt = "%Y-%m-%dT%H:%M:%SZ"
with open(OUT / "sessions.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["session_id", "ip", "start_utc", "end_utc", "duration_s", "requests", "bytes", "landing_path"])
    for i, s in enumerate(sessions, 1):
        w.writerow([i, s["ip"], s["start"].strftime(fmt), s["end"].strftime(fmt),
                    int((s["end"] - s["start"]).total_seconds()), s["requests"], s["bytes"], s["landing"]])
durations = [(s["end"] - s["start"]).total_seconds() for s in sessions]
landing = Counter(s["landing"] for s in sessions)
summary = {
    "malformed_lines": malformed,
    "excluded_requests": excluded,
    "sessions": len(sessions),
    "bounce_rate": round(sum(s["requests"] == 1 for s in sessions) / len(sessions), 4),
    "median_duration_s": float(statistics.median(durations)),
    "top_landing_paths": [[p, c] for p, c in sorted(landing.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
}
(OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary))
