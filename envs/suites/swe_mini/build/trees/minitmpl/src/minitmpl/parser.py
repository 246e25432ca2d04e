"""Building the template tree from tokens, including the small expression language."""

from __future__ import annotations

import ast
import re

from .errors import TemplateSyntaxError
from .lexer import Token, tokenize
from .nodes import Condition, Expression, For, If, Node, Output, Text

_EXPR_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
      | (?P<op>==|!=|[|:,])
    )""",
    re.VERBOSE,
)
_FOR = re.compile(r"for\s+(?P<targets>\w+(?:\s*,\s*\w+)*)\s+in\s+(?P<iterable>.+)$", re.DOTALL)
_CONSTANTS = {"true": True, "false": False, "none": None}


def _expression_tokens(text: str, lineno: int) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _EXPR_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise TemplateSyntaxError(f"cannot parse {text[pos:].strip()!r}", lineno)
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _ExpressionParser:
    def __init__(self, text: str, lineno: int) -> None:
        self.tokens = _expression_tokens(text, lineno)
        self.pos = 0
        self.text = text
        self.lineno = lineno

    def error(self, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"{message} in {self.text.strip()!r}", self.lineno)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end")
        self.pos += 1
        return token

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def operand(self) -> Expression:
        kind, value = self.take()
        if kind == "string":
            return Expression(self.lineno, literal=ast.literal_eval(value))
        if kind == "number":
            return Expression(self.lineno, literal=float(value) if "." in value else int(value))
        if kind == "name":
            if value.lower() in _CONSTANTS:
                return Expression(self.lineno, literal=_CONSTANTS[value.lower()])
            return Expression(self.lineno, path=value)
        raise self.error(f"unexpected {value!r}")

    def expression(self) -> Expression:
        base = self.operand()
        filters = []
        while self.peek() == ("op", "|"):
            self.take()
            kind, name = self.take()
            if kind != "name":
                raise self.error(f"expected a filter name, got {name!r}")
            args: list[Expression] = []
            if self.peek() == ("op", ":"):
                self.take()
                args.append(self.operand())
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.operand())
            filters.append((name, tuple(args)))
        return Expression(self.lineno, base.path, base.literal, tuple(filters))

    def condition(self) -> Condition:
        negate = False
        if self.peek() == ("name", "not"):
            self.take()
            negate = True
        left = self.expression()
        operator = right = None
        token = self.peek()
        if token is not None and token[1] in ("==", "!="):
            operator = self.take()[1]
            right = self.expression()
        return Condition(left, operator, right, negate)


def parse_expression(text: str, lineno: int = 1) -> Expression:
    parser = _ExpressionParser(text, lineno)
    expression = parser.expression()
    if not parser.at_end():
        raise parser.error("unexpected text")
    return expression


def parse_condition(text: str, lineno: int = 1) -> Condition:
    parser = _ExpressionParser(text, lineno)
    condition = parser.condition()
    if not parser.at_end():
        raise parser.error("unexpected text")
    return condition


class Parser:
    """Turns tokens into a list of nodes."""

    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.pos = 0

    def parse(self) -> list[Node]:
        nodes, end = self._block(())
        if end is not None:
            raise TemplateSyntaxError(f"unexpected {{% {end.value} %}}", end.lineno)
        return nodes

    def _block(self, stops: tuple[str, ...]) -> tuple[list[Node], Token | None]:
        """Nodes up to a tag whose first word is in ``stops`` (returned too)."""
        nodes: list[Node] = []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            self.pos += 1
            if token.kind == "text":
                nodes.append(Text(token.value))
            elif token.kind == "output":
                nodes.append(Output(parse_expression(token.value, token.lineno)))
            else:
                word = token.value.split()[0]
                if word in stops:
                    return nodes, token
                nodes.append(self._tag(token, word))
        if stops:
            raise TemplateSyntaxError(f"missing {{% {stops[-1]} %}}", self.tokens[-1].lineno)
        return nodes, None

    def _tag(self, token: Token, word: str) -> Node:
        if word == "for":
            return self._for(token)
        if word == "if":
            return self._if(token)
        raise TemplateSyntaxError(f"unknown tag {word!r}", token.lineno)

    def _for(self, token: Token) -> For:
        match = _FOR.match(token.value)
        if match is None:
            raise TemplateSyntaxError("expected 'for NAME in EXPRESSION'", token.lineno)
        targets = tuple(t.strip() for t in match.group("targets").split(","))
        node = For(targets, parse_expression(match.group("iterable"), token.lineno))
        node.body, end = self._block(("empty", "endfor"))
        if end is not None and end.value == "empty":
            node.empty, end = self._block(("endfor",))
        return node

    def _if(self, token: Token) -> If:
        node = If()
        condition = parse_condition(token.value[2:], token.lineno)
        while True:
            body, end = self._block(("elif", "else", "endif"))
            node.branches.append((condition, body))
            assert end is not None
            if end.value.split()[0] == "elif":
                condition = parse_condition(end.value[4:], end.lineno)
                continue
            if end.value == "else":
                node.otherwise, end = self._block(("endif",))
            return node


def parse(source: str) -> list[Node]:
    return Parser(source).parse()

