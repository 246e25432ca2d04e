"""Exceptions raised by iniconf."""

from __future__ import annotations


class ConfigError(Exception):
    """Base class of every iniconf error."""


class ParseError(ConfigError):
    """The configuration text is malformed."""

    def __init__(self, message: str, lineno: int, source: str = "<string>") -> None:
        super().__init__(f"{source}, line {lineno}: {message}")
        self.lineno = lineno
        self.source = source


class MissingKeyError(ConfigError, KeyError):
    """A section or key does not exist."""

    def __init__(self, section: str, key: str | None = None) -> None:
        message = f"no section [{section}]" if key is None else f"no key {key!r} in [{section}]"
        super().__init__(message)
        self.section = section
        self.key = key

    def __str__(self) -> str:
        return str(self.args[0])


class InterpolationError(ConfigError):
    """A ``${...}`` reference cannot be expanded."""
