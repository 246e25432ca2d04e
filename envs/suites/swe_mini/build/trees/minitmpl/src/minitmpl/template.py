"""`Template`: compile once, render many times."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import Context
from .nodes import render_all
from .parser import parse


class Template:
    """A compiled template.

    >>> Template("Hello {{ name|title }}!").render(name="ada")
    'Hello Ada!'
    """

    def __init__(self, source: str, *, autoescape: bool = True) -> None:
        self.source = source
        self.autoescape = autoescape
        self.nodes = parse(source)

    def render(self, variables: Mapping[str, Any] | None = None, /, **kwargs: Any) -> str:
        """Render with ``variables`` and keyword arguments (which win)."""
        context = Context({**(variables or {}), **kwargs})
        out: list[str] = []
        render_all(self.nodes, context, out, self.autoescape)
        return "".join(out)


def render(source: str, variables: Mapping[str, Any] | None = None, /, **kwargs: Any) -> str:
    """Compile and render ``source`` in one go."""
    return Template(source).render(variables, **kwargs)
