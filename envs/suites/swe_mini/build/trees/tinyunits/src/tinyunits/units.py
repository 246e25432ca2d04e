"""Units, their dimensions, and the registry that turns unit strings into `Unit` objects."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UnitError

#: Base dimensions, in the order used by `Unit.dims`.
BASE_DIMENSIONS = ("length", "mass", "time", "temperature", "amount", "current")

Dims = tuple[int, int, int, int, int, int]

_NONE: Dims = (0, 0, 0, 0, 0, 0)
_L: Dims = (1, 0, 0, 0, 0, 0)
_M: Dims = (0, 1, 0, 0, 0, 0)
_T: Dims = (0, 0, 1, 0, 0, 0)
_THETA: Dims = (0, 0, 0, 1, 0, 0)
_N: Dims = (0, 0, 0, 0, 1, 0)
_I: Dims = (0, 0, 0, 0, 0, 1)


def _combine(a: Dims, b: Dims, sign: int = 1) -> Dims:
    return tuple(x + sign * y for x, y in zip(a, b))  # type: ignore[return-value]


def _scale(a: Dims, n: int) -> Dims:
    return tuple(x * n for x in a)  # type: ignore[return-value]


@dataclass(frozen=True)
class Unit:
    """A unit: how to get from it to the SI base units of its dimensions.

    ``factor`` and ``offset`` describe the conversion to base units:
    ``base = value * factor + offset``.  Only temperature scales such as
    degrees Celsius have a non-zero offset, and such units cannot be
    multiplied, divided or raised to a power.
    """

    symbol: str
    factor: float
    dims: Dims = _NONE
    offset: float = 0.0

    @property
    def dimensionless(self) -> bool:
        return self.dims == _NONE

    def is_compatible(self, other: Unit) -> bool:
        """True when both units measure the same kind of thing."""
        return self.dims == other.dims

    def to_base(self, value: float) -> float:
        """Convert ``value`` in this unit to the SI base unit."""
        return (value + self.offset) * self.factor

    def from_base(self, value: float) -> float:
        """Convert ``value`` in the SI base unit to this unit."""
        return value / self.factor - self.offset

    def _check_linear(self, operation: str) -> None:
        if self.offset:
            raise UnitError(f"cannot {operation} the offset unit {self.symbol!r}")

    def __mul__(self, other: Unit) -> Unit:
        self._check_linear("multiply")
        other._check_linear("multiply")
        symbol = "*".join(s for s in (self.symbol, other.symbol) if s)
        return Unit(symbol, self.factor * other.factor, _combine(self.dims, other.dims))

    def __truediv__(self, other: Unit) -> Unit:
        self._check_linear("divide")
        other._check_linear("divide")
        symbol = f"{self.symbol or '1'}/{other.symbol}" if other.symbol else self.symbol
        return Unit(symbol, self.factor / other.factor, _combine(self.dims, other.dims, -1))

    def __pow__(self, power: int) -> Unit:
        self._check_linear("raise")
        if not isinstance(power, int):
            return NotImplemented
        return Unit(f"{self.symbol}^{power}", self.factor**power, _scale(self.dims, power))

    def __str__(self) -> str:
        return self.symbol


DIMENSIONLESS = Unit("", 1.0)

PREFIXES: dict[str, float] = {
    "G": 1e9,
    "M": 1e6,
    "k": 1e3,
    "h": 1e2,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
}

_UNITS: dict[str, Unit] = {}
_PREFIXABLE: set[str] = set()


def define(symbol: str, factor: float, dims: Dims, offset: float = 0.0, *,
           prefixable: bool = False) -> Unit:
    """Add a unit to the registry and return it."""
    if symbol in _UNITS:
        raise UnitError(f"unit {symbol!r} is already defined")
    unit = Unit(symbol, factor, dims, offset)
    _UNITS[symbol] = unit
    if prefixable:
        _PREFIXABLE.add(symbol)
    return unit


# SI base units and a few derived ones.  The kilogram is the base unit of
# mass, but prefixes attach to the gram.
define("m", 1.0, _L, prefixable=True)
define("g", 1e-3, _M, prefixable=True)
define("s", 1.0, _T, prefixable=True)
define("K", 1.0, _THETA)
define("mol", 1.0, _N, prefixable=True)
define("A", 1.0, _I, prefixable=True)
define("N", 1.0, (1, 1, -2, 0, 0, 0), prefixable=True)
define("J", 1.0, (2, 1, -2, 0, 0, 0), prefixable=True)
define("W", 1.0, (2, 1, -3, 0, 0, 0), prefixable=True)
define("Pa", 1.0, (-1, 1, -2, 0, 0, 0), prefixable=True)
define("Hz", 1.0, (0, 0, -1, 0, 0, 0), prefixable=True)
define("L", 1e-3, (3, 0, 0, 0, 0, 0), prefixable=True)

# Time
define("min", 60.0, _T)
define("h", 3600.0, _T)
define("day", 86400.0, _T)

# Imperial
define("in", 0.0254, _L)
define("ft", 0.3048, _L)
define("yd", 0.9144, _L)
define("mi", 1609.344, _L)
define("lb", 0.45359237, _M)
define("oz", 0.028349523125, _M)

# Temperature scales
define("degC", 1.0, _THETA, offset=273.15)
define("degF", 5 / 9, _THETA, offset=273.15 - 32 * 5 / 9)

def split_prefix(symbol: str) -> tuple[str, Unit] | None:
    """``(prefix, unprefixed unit)`` for a unit that takes SI prefixes, else None.

    ``split_prefix("km")`` is ``("k", <m>)`` and ``split_prefix("m")`` is ``("", <m>)``.
    """
    if symbol in _PREFIXABLE:
        return "", _UNITS[symbol]
    for prefix in PREFIXES:
        rest = symbol[len(prefix):]
        if symbol.startswith(prefix) and rest in _PREFIXABLE:
            return prefix, _UNITS[rest]
    return None


_TERM = re.compile(r"\s*([A-Za-zµ]+)\s*(?:\^\s*(-?\d+))?\s*")


def lookup(symbol: str) -> Unit:
    """The unit called ``symbol``, trying SI prefixes when there is no exact match."""
    if symbol in _UNITS:
        return _UNITS[symbol]
    for prefix, factor in PREFIXES.items():
        rest = symbol[len(prefix):]
        if symbol.startswith(prefix) and rest in _PREFIXABLE:
            base = _UNITS[rest]
            return Unit(symbol, base.factor * factor, base.dims)
    raise UnitError(f"unknown unit {symbol!r}")


def parse_unit(text: str) -> Unit:
    """Parse a unit expression such as ``"km/h"``, ``"kg*m/s^2"`` or ``"1/s"``.

    Terms are separated by ``*`` or ``/`` and read from left to right, so
    ``"J/kg*K"`` means ``(J/kg)*K``.  An empty string is dimensionless.
    """
    text = text.strip()
    if not text:
        return DIMENSIONLESS
    pieces = re.split(r"([*/])", text)
    first = pieces[0].strip()
    result = DIMENSIONLESS if first == "1" else _parse_term(first, text)
    for operator, term in zip(pieces[1::2], pieces[2::2]):
        unit = _parse_term(term, text)
        result = result * unit if operator == "*" else result / unit
    if len(pieces) == 1:
        return result
    return Unit(text.replace(" ", ""), result.factor, result.dims)


def _parse_term(term: str, whole: str) -> Unit:
    match = _TERM.fullmatch(term)
    if match is None:
        raise UnitError(f"cannot parse unit {whole!r}")
    unit = lookup(match.group(1))
    if match.group(2) is not None:
        unit = unit ** int(match.group(2))
    return unit
