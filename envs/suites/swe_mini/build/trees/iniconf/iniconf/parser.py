"""Turning INI text into sections of raw (uninterpolated) string values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict

from .errors import ParseError

#: Keys that appear before the first section header belong to this section, and
#: every other section falls back to it.
DEFAULT_SECTION = "DEFAULT"

_SECTION = re.compile(r"\[(?P<name>[^\]]*)\]\s*(?:[#;].*)?$")
_OPTION = re.compile(r"(?P<key>[^=:\s][^=:]*?)\s*[=:]\s*(?P<value>.*)$")
_INLINE_COMMENT = re.compile(r"\s[#;]")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


@dataclass
class RawValue:
    """A value as written in the file, and the line it started on."""

    text: str
    lineno: int


Sections = Dict[str, Dict[str, RawValue]]


def _strip_inline_comment(text: str) -> str:
    """Drop a comment that follows a value: ``#`` or ``;`` after whitespace."""
    match = _INLINE_COMMENT.search(text)
    return text[: match.start()] if match else text


def unquote(value: str) -> str:
    """Remove matching quotes around a value.

    Double-quoted values understand the escapes ``\\n``, ``\\t``, ``\\\\`` and
    ``\\"``; single-quoted values are taken literally.
    """
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == "'":
            return inner
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), inner)
    return value


def parse(text: str, source: str = "<string>") -> Sections:
    """Parse INI text into ``{section: {key: RawValue}}``.

    Section names are case-sensitive, keys are not (they are lower-cased).
    Lines starting with ``#`` or ``;`` are comments, and so is anything after
    whitespace followed by ``#`` or ``;`` on a value line.  An indented line
    continues the previous value; a blank line ends it.
    """
    sections: Sections = {DEFAULT_SECTION: {}}
    name = DEFAULT_SECTION
    current = sections[name]
    last: RawValue | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            last = None
            continue
        if stripped[0] in "#;":
            continue
        if line[0].isspace() and last is not None:
            last.text += "\n" + _strip_inline_comment(stripped).rstrip()
            continue
        header = _SECTION.match(stripped)
        if header:
            name = header.group("name").strip()
            if not name:
                raise ParseError("empty section name", lineno, source)
            if name in sections and name != DEFAULT_SECTION:
                raise ParseError(f"duplicate section [{name}]", lineno, source)
            current = sections.setdefault(name, {})
            last = None
            continue
        option = _OPTION.match(stripped)
        if option is None:
            raise ParseError(f"expected 'key = value', got {stripped!r}", lineno, source)
        key = option.group("key").strip().lower()
        if key in current:
            raise ParseError(f"duplicate key {key!r} in [{name}]", lineno, source)
        value = unquote(_strip_inline_comment(option.group("value")).strip())
        last = current[key] = RawValue(value, lineno)
    return sections
