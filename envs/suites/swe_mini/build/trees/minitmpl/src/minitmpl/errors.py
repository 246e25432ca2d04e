"""Exceptions raised by minitmpl."""

from __future__ import annotations


class TemplateError(Exception):
    """Base class of minitmpl's errors."""


class TemplateSyntaxError(TemplateError):
    """The template source is malformed."""

    def __init__(self, message: str, lineno: int) -> None:
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


class FilterError(TemplateError):
    """A filter is unknown or was given bad arguments."""
