"""The template tree and how each node renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .context import UNDEFINED, Context
from .filters import apply
from .markup import Markup, escape


@dataclass(frozen=True)
class Expression:
    """A literal or a dotted path, followed by filters."""

    lineno: int
    path: str | None = None
    literal: Any = None
    filters: tuple[tuple[str, tuple[Expression, ...]], ...] = ()

    def evaluate(self, context: Context) -> Any:
        value = context.resolve(self.path) if self.path is not None else self.literal
        for name, args in self.filters:
            value = apply(name, value, [arg.evaluate(context) for arg in args], self.lineno)
        return value


@dataclass(frozen=True)
class Condition:
    """``[not] left [== or != right]``."""

    left: Expression
    operator: str | None = None
    right: Expression | None = None
    negate: bool = False

    def evaluate(self, context: Context) -> bool:
        left = self.left.evaluate(context)
        if self.operator is None:
            result = bool(left)
        else:
            assert self.right is not None
            equal = left == self.right.evaluate(context)
            result = equal if self.operator == "==" else not equal
        return not result if self.negate else result


class Node:
    def render(self, context: Context, out: list[str], autoescape: bool) -> None:
        raise NotImplementedError


def render_all(nodes: Sequence[Node], context: Context, out: list[str], autoescape: bool) -> None:
    for node in nodes:
        node.render(context, out, autoescape)


@dataclass
class Text(Node):
    text: str

    def render(self, context: Context, out: list[str], autoescape: bool) -> None:
        out.append(self.text)


@dataclass
class Output(Node):
    expression: Expression

    def render(self, context: Context, out: list[str], autoescape: bool) -> None:
        value = self.expression.evaluate(context)
        if value is None or value is UNDEFINED:
            return
        if isinstance(value, Markup) or not autoescape:
            out.append(str(value))
        else:
            out.append(escape(value))


@dataclass
class LoopInfo:
    """The ``loop`` variable inside ``{% for %}``."""

    index0: int
    length: int

    @property
    def index(self) -> int:
        return self.index0 + 1

    @property
    def revindex(self) -> int:
        return self.length - self.index0

    @property
    def first(self) -> bool:
        return self.index0 == 0

    @property
    def last(self) -> bool:
        return self.index0 == self.length


@dataclass
class For(Node):
    targets: tuple[str, ...]
    iterable: Expression
    body: list[Node] = field(default_factory=list)
    empty: list[Node] = field(default_factory=list)

    def render(self, context: Context, out: list[str], autoescape: bool) -> None:
        items = list(self.iterable.evaluate(context) or ())
        if not items:
            render_all(self.empty, context, out, autoescape)
            return
        for index0, item in enumerate(items):
            if len(self.targets) == 1:
                values = {self.targets[0]: item}
            else:
                values = dict(zip(self.targets, item))
            with context.scope(loop=LoopInfo(index0, len(items)), **values):
                render_all(self.body, context, out, autoescape)


@dataclass
class If(Node):
    branches: list[tuple[Condition, list[Node]]] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)

    def render(self, context: Context, out: list[str], autoescape: bool) -> None:
        for condition, body in self.branches:
            if condition.evaluate(context):
                render_all(body, context, out, autoescape)
                return
        render_all(self.otherwise, context, out, autoescape)
