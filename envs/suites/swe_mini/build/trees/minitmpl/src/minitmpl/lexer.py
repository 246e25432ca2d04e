"""Splitting template source into text, ``{{ output }}``, ``{% tag %}`` and ``{# comment #}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import TemplateSyntaxError

_TAG = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.DOTALL)
_KINDS = {"{{": "output", "{%": "tag", "{#": "comment"}


@dataclass(frozen=True)
class Token:
    kind: str  # "text", "output", "tag" or "comment"
    value: str  # the text, or the stripped inside of the delimiters
    lineno: int


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``; comments are dropped."""
    tokens: list[Token] = []
    lineno = 1
    for i, piece in enumerate(_TAG.split(source)):
        if i % 2 == 0:  # text between tags
            for opener in _KINDS:
                if opener in piece:
                    line = lineno + piece[: piece.index(opener)].count("\n")
                    raise TemplateSyntaxError(f"unclosed {opener!r}", line)
            if piece:
                tokens.append(Token("text", piece, lineno))
        elif _KINDS[piece[:2]] != "comment":
            inner = piece[2:-2].strip()
            if not inner:
                raise TemplateSyntaxError(f"empty {piece!r}", lineno)
            tokens.append(Token(_KINDS[piece[:2]], inner, lineno))
        lineno += piece.count("\n")
    return tokens
