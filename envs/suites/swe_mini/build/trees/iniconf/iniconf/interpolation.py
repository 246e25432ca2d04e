"""``${key}`` and ``${section:key}`` references inside values."""

from __future__ import annotations

import re
from typing import Callable, FrozenSet, Optional, Set, Tuple

from .errors import InterpolationError, MissingKeyError

_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<ref>[^}]*)\})")

Lookup = Callable[[str, str], str]
Node = Tuple[str, str]


def interpolate(value: str, section: str, lookup: Lookup,
                seen: Optional[Set[Node]] = None) -> str:
    """Expand the references in ``value``, which belongs to ``section``.

    ``${key}`` names a key of the same section (or of DEFAULT), ``${other:key}``
    a key of another section, and ``$$`` is a literal dollar sign.  Referenced
    values are expanded too; ``seen`` holds the ``(section, key)`` pairs being
    expanded, so that a value referring back to itself is reported instead of
    recursing forever.
    """
    if seen is None:
        seen = set()

    def expand(match: re.Match) -> str:
        if match.group("escaped"):
            return "$"
        ref = match.group("ref").strip()
        target, _, key = ref.rpartition(":")
        target = target.strip() or section
        key = key.strip().lower()
        if not key:
            raise InterpolationError(f"empty reference in {value!r}")
        node = (target, key)
        if node in seen:
            raise InterpolationError(f"circular reference to ${{{ref}}} in [{section}]")
        seen.add(node)
        try:
            raw = lookup(target, key)
        except MissingKeyError as exc:
            raise InterpolationError(f"bad reference ${{{ref}}} in [{section}]: {exc}") from None
        return interpolate(raw, target, lookup, seen)

    return _REFERENCE.sub(expand, value)


def references(value: str) -> FrozenSet[str]:
    """The references a value makes, as written (``{"root", "paths:home"}``)."""
    return frozenset(m.group("ref").strip() for m in _REFERENCE.finditer(value) if m.group("ref"))
