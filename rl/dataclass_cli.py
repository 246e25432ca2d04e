"""Dataclass -> command line, cleanrl style: every field becomes `--field-name` (no extra deps)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def parse_args(cls: type[T], argv: Sequence[str] | None = None, description: str = "") -> T:
    """Build `cls` (a dataclass with int/float/str/bool/Literal fields) from `argv`.

    Booleans take `--flag` / `--no-flag`; a field's docstring-comment is not parsed, so help
    shows the default. Unknown options fail with argparse's usual message.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    parser = argparse.ArgumentParser(description=description or cls.__doc__)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        default = f.default
        kwargs: dict[str, Any] = {"default": default, "help": f"default: {default!r}"}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(kind) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(kind))
        elif kind in (int, float, str):
            kwargs["type"] = kind
        else:
            raise TypeError(f"field {f.name}: type {kind!r} is not supported on the command line")
        parser.add_argument(flag, dest=f.name, **kwargs)
    return cls(**vars(parser.parse_args(argv)))
