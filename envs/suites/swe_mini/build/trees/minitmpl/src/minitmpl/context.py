"""Variable scopes and looking names up on the objects templates are rendered with."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class Undefined:
    """What a missing variable or attribute evaluates to: empty and falsy."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = Undefined()


def lookup(obj: Any, name: str) -> Any:
    """``obj.name`` as templates see it.

    Tries an attribute, then a key, then (for digits) a list index.  Callables
    without arguments, such as methods, are called.  Anything missing is
    `UNDEFINED`.
    """
    if obj is UNDEFINED:
        return UNDEFINED
    try:
        value = getattr(obj, name)
    except AttributeError:
        try:
            value = obj[int(name) if name.isdigit() else name]
        except (TypeError, KeyError, IndexError):
            return UNDEFINED
    if callable(value) and not isinstance(value, type):
        value = value()
    return value


class Context:
    """A stack of scopes; the innermost scope wins."""

    def __init__(self, variables: Mapping[str, Any] | None = None) -> None:
        self._scopes: list[dict[str, Any]] = [dict(variables or {})]

    def __getitem__(self, name: str) -> Any:
        for scope in reversed(self._scopes):
            if name in scope:
                return scope[name]
        return UNDEFINED

    def __setitem__(self, name: str, value: Any) -> None:
        self._scopes[-1][name] = value

    @contextmanager
    def scope(self, **variables: Any) -> Iterator[Context]:
        """A new innermost scope for the duration of the ``with`` block."""
        self._scopes.append(dict(variables))
        try:
            yield self
        finally:
            self._scopes.pop()

    def resolve(self, path: str) -> Any:
        """The value of a dotted path such as ``user.address.city`` or ``rows.0``."""
        first, *rest = path.split(".")
        value = self[first]
        for name in rest:
            value = lookup(value, name)
        return value
