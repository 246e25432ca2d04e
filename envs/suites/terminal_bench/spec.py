"""Typed task files read as published: forward compatible, strict on request.

Each published format is a tree of `OpenModel`s (the project's one config loader,
`envs.core.config`): a key the model does not know is kept aside, not dropped, and
`unknown_keys` lists it with its path and the nearest known key. `check_unknown` turns that
list into warnings (the default: a task written for a newer version of the format still runs)
or, with `strict=True`, into one `TaskError`. A known key with a wrong value is always a
`TaskError` naming the file and the key (`validate`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from envs.core import config
from envs.core.config import OpenModel, unknown_keys
from envs.core.errors import TaskError

M = TypeVar("M", bound=OpenModel)

__all__ = ["OpenModel", "check_unknown", "unknown_keys", "validate"]


def check_unknown(model: OpenModel, where: str, strict: bool) -> tuple[str, ...]:
    """The unknown-key warnings of `model`; with `strict`, a `TaskError` listing them instead."""
    lines = unknown_keys(model)
    if strict and lines:
        raise TaskError(
            f"{where}: {'; '.join(lines)} (strict parsing: fix the key, or run without "
            "--strict to only warn about keys this version of ALE-Gym does not know)"
        )
    return tuple(lines)


def validate(model: type[M], data: Any, where: str) -> M:
    """`model.model_validate(data)`; a `TaskError` naming the file and each wrong key."""
    return config.validate(model, data, where, "task file", error=TaskError)
