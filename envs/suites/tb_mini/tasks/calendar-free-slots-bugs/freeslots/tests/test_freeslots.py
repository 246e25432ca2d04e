from datetime import datetime, timezone

from freeslots import Interval, free_slots, merge, parse_timestamp

UTC = timezone.utc


def t(hour, minute=0):
    return datetime(2024, 3, 4, hour, minute, tzinfo=UTC)


def test_parse_utc():
    assert parse_timestamp("2024-03-04T08:00Z") == t(8)


def test_merge_disjoint():
    ivs = [Interval(t(9), t(10)), Interval(t(11), t(12))]
    assert merge(ivs) == ivs


def test_merge_overlap():
    assert merge([Interval(t(9), t(11)), Interval(t(10), t(12))]) == [Interval(t(9), t(12))]


def test_free_slots_middle():
    slots = free_slots([Interval(t(9), t(10)), Interval(t(11), t(17))], t(9), t(17))
    assert slots == [Interval(t(10), t(11))]


def test_parse_offset():
    assert parse_timestamp("2024-03-04T09:00+01:00") == t(8)


def test_free_slots_end_of_window():
    slots = free_slots([Interval(t(9), t(10))], t(9), t(12))
    assert slots == [Interval(t(10), t(12))]
