"""Errors of the env layer: one base class; messages name the fix."""

from __future__ import annotations

import difflib


class EnvError(RuntimeError):
    """Base class of errors raised by `envs` outside the sandbox layer."""


class TaskError(EnvError):
    """A task file or dataset is missing, malformed, or names an unknown task."""


def unknown_id_message(kind: str, name: str, known: list[str]) -> str:
    """'unknown task 'x': did you mean 'y'? (N known; list them with ...)'."""
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} ({len(known)} known: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})"
