"""Typed task files read as published: forward compatible, strict on request.

Each published format is a tree of `OpenModel`s (pydantic, `extra="allow"`): a key the model
does not know is kept aside, not dropped, and `unknown_keys` lists it with its path and the
nearest known key. The loader turns that list into warnings (the default: a task written for
a newer version of the format still runs) or, with `strict=True`, into one `TaskError`.

A known key with a wrong type is always an error; `validation_message` makes pydantic's
report one line naming the key (`[agent].timeout_sec: Input should be a valid number`).
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from envs.core.errors import TaskError


class OpenModel(BaseModel):
    """A table of a task file: known keys typed, unknown ones kept in `model_extra`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _walk(value: Any, path: str) -> list[tuple[str, str, list[str]]]:
    found: list[tuple[str, str, list[str]]] = []
    if isinstance(value, OpenModel):
        known = sorted(
            {f.alias or name for name, f in type(value).model_fields.items()}
            | set(type(value).model_fields)
        )
        for key in value.model_extra or {}:
            found.append((path, str(key), known))
        for name in type(value).model_fields:
            found += _walk(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _walk(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, OpenModel | list):
                found += _walk(item, f"{path}.{key}")
    return found


def unknown_keys(model: OpenModel) -> list[str]:
    """One line per unknown key: `[agent]: unknown key 'timeout_secs'. Did you mean 'timeout_sec'?`"""
    lines = []
    for path, key, known in _walk(model, ""):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f"[{path}]: " if path else ""
        lines.append(f"{where}unknown key {key!r}.{hint}")
    return lines


def check_unknown(model: OpenModel, where: str, strict: bool) -> tuple[str, ...]:
    """The unknown-key warnings of `model`; with `strict`, a `TaskError` listing them instead."""
    lines = unknown_keys(model)
    if strict and lines:
        raise TaskError(
            f"{where}: {'; '.join(lines)} (strict parsing: fix the key, or run without "
            "--strict to only warn about keys this version of ALE-Gym does not know)"
        )
    return tuple(lines)


def validation_message(where: str, exc: ValidationError) -> TaskError:
    """A `TaskError` naming the file, the key path and what is wrong with its value."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        parts.append(f"{loc or 'file'}: {err['msg']} (got {err.get('input')!r:.80})")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return TaskError(f"{where}: {'; '.join(parts)}{more}")


def validate(model: type[OpenModel], data: Any, where: str) -> Any:
    """`model.model_validate(data)`, a `TaskError` naming the key when a value is wrong."""
    if not isinstance(data, dict):
        raise TaskError(f"{where}: expected a table of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_message(where, exc) from exc
