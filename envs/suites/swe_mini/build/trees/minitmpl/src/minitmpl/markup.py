"""HTML escaping and `Markup`, a string that is already safe to output."""

from __future__ import annotations

from typing import Any

_REPLACEMENTS = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&#34;"),
    ("'", "&#39;"),
)


class Markup(str):
    """A string that is output as is, without escaping."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)

    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, escape(other)))

    def __repr__(self) -> str:
        return f"Markup({str.__repr__(self)})"


def escape(value: Any) -> Markup:
    """Escape ``value`` for HTML, unless it is already `Markup` (or has ``__html__``)."""
    if hasattr(value, "__html__"):
        return Markup(value.__html__())
    text = str(value)
    for char, entity in _REPLACEMENTS:
        text = text.replace(char, entity)
    return Markup(text)
