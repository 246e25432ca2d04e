"""The built-in filters: ``{{ value|name }}`` or ``{{ value|name:arg1,arg2 }}``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .context import UNDEFINED, lookup
from .errors import FilterError
from .markup import Markup, escape

Filter = Callable[..., Any]

FILTERS: dict[str, Filter] = {}


def register(name: str) -> Callable[[Filter], Filter]:
    """Decorator adding a function to the built-in filters."""
    def decorator(func: Filter) -> Filter:
        FILTERS[name] = func
        return func
    return decorator


@register("upper")
def upper(value: Any) -> str:
    return str(value).upper()


@register("lower")
def lower(value: Any) -> str:
    return str(value).lower()


@register("title")
def title(value: Any) -> str:
    return str(value).title()


@register("capitalize")
def capitalize(value: Any) -> str:
    return str(value).capitalize()


@register("trim")
def trim(value: Any) -> str:
    return str(value).strip()


@register("length")
def length(value: Any) -> int:
    return len(value)


@register("default")
def default(value: Any, fallback: Any = "") -> Any:
    """``fallback`` when the value is undefined, None or empty."""
    if value is UNDEFINED or value is None or value == "":
        return fallback
    return value


@register("join")
def join(value: Iterable[Any], separator: str = ", ") -> str:
    return str(separator).join(str(item) for item in value)


@register("wordcount")
def wordcount(value: Any) -> int:
    """The number of whitespace-separated words."""
    return len(str(value).split())


@register("first")
def first(value: Iterable[Any]) -> Any:
    return next(iter(value), UNDEFINED)


@register("last")
def last(value: Iterable[Any]) -> Any:
    items = list(value)
    return items[-1] if items else UNDEFINED


@register("truncate")
def truncate(value: Any, size: int = 80, ellipsis: str = "...") -> str:
    """At most ``size`` characters, ending with ``ellipsis`` when cut."""
    text = str(value)
    if len(text) <= size:
        return text
    return text[: max(size - len(ellipsis), 0)].rstrip() + ellipsis


@register("sort")
def sort(value: Iterable[Any], attribute: str | None = None, reverse: bool = False) -> list[Any]:
    """Sorted items; ``sort:"name"`` sorts by an attribute or key of each item."""
    if attribute is None:
        return sorted(value, reverse=bool(reverse))
    return sorted(value, key=lambda item: lookup(item, attribute), reverse=bool(reverse))


@register("map")
def map_(value: Iterable[Any], attribute: str) -> list[Any]:
    """The ``attribute`` (or key) of every item."""
    return [lookup(item, attribute) for item in value]


@register("escape")
def escape_(value: Any) -> Markup:
    return escape(value)


@register("safe")
def safe(value: Any) -> Markup:
    return Markup(str(value))


def apply(name: str, value: Any, args: list[Any], lineno: int) -> Any:
    """Run filter ``name``; unknown filters and bad arguments raise `FilterError`."""
    try:
        func = FILTERS[name]
    except KeyError:
        raise FilterError(f"line {lineno}: unknown filter {name!r}") from None
    try:
        return func(value, *args)
    except TypeError as exc:
        raise FilterError(f"line {lineno}: filter {name!r}: {exc}") from None
