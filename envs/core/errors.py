"""Errors of the env layer: one base class; messages name the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EnvError(RuntimeError):
    """Base class of errors raised by `envs` outside the sandbox layer."""


class TaskError(EnvError):
    """A task file or dataset is missing, malformed, or names an unknown task."""


def did_you_mean(name: str, known: Iterable[str], n: int = 1, cutoff: float = 0.6) -> str:
    """`" Did you mean 'x'?"` (up to `n` close names, comma-separated), or `""` if none is close."""
    close = difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def unknown_id_message(kind: str, name: str, known: list[str]) -> str:
    """'unknown task 'x'. Did you mean 'y'? (N known: ...)'."""
    hint = did_you_mean(name, known, n=3)
    listed = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
    return f"unknown {kind} {name!r}.{hint} ({len(known)} known: {listed})"
