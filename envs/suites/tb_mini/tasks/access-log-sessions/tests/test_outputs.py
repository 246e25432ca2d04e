"""Checks for access-log-sessions: the session table and the summary."""

import csv
import json
import math
from pathlib import Path

HERE = Path(__file__).parent
REPORT = Path("/app/report")


def _rows(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        return next(reader), [r for r in reader if r]


def test_sessions_header():
    header, _ = _rows(REPORT / "sessions.csv")
    assert header == ["session_id", "ip", "start_utc", "end_utc", "duration_s", "requests",
                      "bytes", "landing_path"]


def test_session_count():
    _, got = _rows(REPORT / "sessions.csv")
    _, expected = _rows(HERE / "expected_sessions.csv")
    assert len(got) == len(expected)


def test_sessions_exact():
    """Every session (order, bounds in UTC, counts, bytes, landing path) matches."""
    _, got = _rows(REPORT / "sessions.csv")
    _, expected = _rows(HERE / "expected_sessions.csv")
    for g, e in zip(got, expected, strict=False):
        assert [c.strip() for c in g] == e, (g, e)


def test_dst_boundary_visitor():
    """A 30-minute gap that spans the DST switch keeps one session; 1801 s splits it."""
    _, got = _rows(REPORT / "sessions.csv")
    mine = [r for r in got if r[1] == "203.0.113.77"]
    assert [(r[2], r[3], r[5]) for r in mine] == [
        ("2024-03-31T00:40:00Z", "2024-03-31T01:10:00Z", "2"),
        ("2024-03-31T01:40:01Z", "2024-03-31T01:41:40Z", "2"),
    ]


def test_summary():
    got = json.loads((REPORT / "summary.json").read_text())
    expected = json.loads((HERE / "expected_summary.json").read_text())
    for key in ("malformed_lines", "excluded_requests", "sessions"):
        assert got[key] == expected[key], key
    assert math.isclose(got["bounce_rate"], expected["bounce_rate"], abs_tol=1e-4)
    assert math.isclose(got["median_duration_s"], expected["median_duration_s"], abs_tol=1e-6)
    assert [list(x) for x in got["top_landing_paths"]] == expected["top_landing_paths"]
