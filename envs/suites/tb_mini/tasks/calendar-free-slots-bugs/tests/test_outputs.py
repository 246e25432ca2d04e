"""Checks for calendar-free-slots-bugs: the package behaves as its README says."""

import hashlib
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

PKG = Path("/app/freeslots")
sys.path.insert(0, str(PKG))

from freeslots import Interval, free_slots, merge, parse_calendar, parse_timestamp  # noqa: E402

UTC = timezone.utc
VISIBLE_TESTS_SHA256 = "7bd1440a3abd108df86ae2b914c5b0380c1758034b2d57e02761218a734d3540"


def t(hour, minute=0, day=4):
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def iv(a, b):
    return Interval(t(*a) if isinstance(a, tuple) else t(a), t(*b) if isinstance(b, tuple) else t(b))


def cli(*args, cwd=PKG):
    proc = subprocess.run([sys.executable, "-m", "freeslots", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=30, env={"PYTHONPATH": str(PKG)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_visible_tests_untouched_and_green():
    """The shipped unit tests are unchanged and pass."""
    data = (PKG / "tests/test_freeslots.py").read_bytes()
    assert hashlib.sha256(data).hexdigest() == VISIBLE_TESTS_SHA256
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=PKG, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:]


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-04T09:00+01:00", t(8)),
    ("2024-03-04T14:30+05:30", t(9)),
    ("2024-03-03T23:00-08:00", t(7)),
    ("2024-03-04T08:00Z", t(8)),
    ("2024-03-04T08:00+00:00", t(8)),
])
def test_parse_timestamp(text, expected):
    """Offsets are subtracted to get UTC (positive and negative, half hours, Z)."""
    assert parse_timestamp(text) == expected


def test_cancelled_events_ignored_in_any_case():
    """[cancelled], [Cancelled], [CANCELLED] titles are all skipped; others kept."""
    text = ("# comment\n\n"
            "2024-03-04T09:00Z 2024-03-04T10:00Z [Cancelled] sync\n"
            "2024-03-04T10:00Z 2024-03-04T11:00Z [CANCELLED]\n"
            "2024-03-04T11:00Z 2024-03-04T12:00Z [cancelled] x\n"
            "2024-03-04T13:00Z 2024-03-04T14:00Z Review of [cancelled] items\n")
    assert parse_calendar(text) == [iv(13, 14)]


def test_merge_nested_and_unsorted():
    """A long interval that contains later-ending short ones is not cut short."""
    got = merge([iv(13, 14), iv(9, 12), iv(10, 11), iv((11, 30), (12, 15))])
    assert got == [iv(9, (12, 15)), iv(13, 14)]


def test_merge_touching_and_empty():
    assert merge([iv(10, 11), iv(9, 10)]) == [iv(9, 11)]
    assert merge([]) == []


def test_free_slots_trailing_gap_and_min_inclusive():
    """The gap before the window end counts; a gap of exactly min_minutes is kept."""
    busy = [iv(9, (9, 30)), iv(10, 11)]
    assert free_slots(busy, t(9), t(12), 30) == [iv((9, 30), 10), iv(11, 12)]
    assert free_slots(busy, t(9), t(12), 31) == [iv(11, 12)]


def test_free_slots_edges():
    assert free_slots([], t(9), t(17)) == [iv(9, 17)]
    assert free_slots([iv(8, 18)], t(9), t(17)) == []
    assert free_slots([iv(8, 10), iv(16, 18)], t(9), t(17)) == [iv(10, 16)]
    assert free_slots([iv(12, 14), iv(9, 13)], t(9), t(17)) == [iv(14, 17)]


def test_cli_example():
    """The example from the bug report."""
    assert cli("--date", "2024-03-04", "--tz", "+01:00", "--min", "30",
               "examples/alice.txt", "examples/bob.txt") == ["09:30-11:00", "12:30-13:00", "14:00-17:00"]


def test_cli_other_timezone(tmp_path):
    """Calendars in several offsets, reported in a negative offset with a custom window."""
    (tmp_path / "a.txt").write_text(
        "2024-03-04T15:00+01:00 2024-03-04T16:00+01:00 Planning\n"
        "2024-03-04T13:00-05:00 2024-03-04T14:00-05:00 [CANCELLED] Retro\n"
        "2024-03-04T19:00Z 2024-03-04T19:45Z Call\n")
    (tmp_path / "b.txt").write_text(
        "2024-03-04T08:30-05:00 2024-03-04T10:15-05:00 Focus\n"
        "2024-03-04T09:45-05:00 2024-03-04T09:50-05:00 Ping\n"
        "2024-03-04T20:15+05:30 2024-03-05T00:15+05:30 Late sync\n")
    got = cli("--date", "2024-03-04", "--tz=-05:00", "--start", "08:00", "--end", "16:00",
              "--min", "15", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"))
    assert got == ["08:00-08:30", "13:45-14:00", "14:45-16:00"]


def test_cli_no_slot(tmp_path):
    (tmp_path / "a.txt").write_text("2024-03-04T07:00Z 2024-03-04T18:00Z Offsite\n")
    got = cli("--date", "2024-03-04", "--tz", "Z", str(tmp_path / "a.txt"))
    assert got == ["no", "free", "slot"]


def test_random_against_reference():
    """free_slots agrees with a minute-by-minute reference on random inputs."""
    import random

    rng = random.Random(7)
    base = t(0)
    for _ in range(200):
        busy = []
        for _ in range(rng.randrange(0, 7)):
            a = rng.randrange(0, 600, 5)
            busy.append(Interval(base + timedelta(minutes=a), base + timedelta(minutes=a + rng.randrange(5, 120, 5))))
        ws, we = rng.randrange(0, 300, 5), rng.randrange(300, 660, 5)
        minimum = rng.choice([0, 10, 30])
        covered = set()
        for b in busy:
            covered.update(range(int((b.start - base).total_seconds() // 60), int((b.end - base).total_seconds() // 60)))
        expected, run = [], None
        for m in range(ws, we + 1):
            free = m < we and m not in covered
            if free and run is None:
                run = m
            if not free and run is not None:
                if m - run >= minimum:
                    expected.append(Interval(base + timedelta(minutes=run), base + timedelta(minutes=m)))
                run = None
        got = free_slots(busy, base + timedelta(minutes=ws), base + timedelta(minutes=we), minimum)
        assert got == expected, (busy, ws, we, minimum)
