"""Common free time of several calendars."""

from .core import free_slots, merge
from .model import Interval
from .parse import parse_calendar, parse_offset, parse_timestamp

__all__ = ["Interval", "free_slots", "merge", "parse_calendar", "parse_offset", "parse_timestamp"]
