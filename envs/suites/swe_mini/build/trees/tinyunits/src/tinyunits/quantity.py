"""`Quantity`: a number with a unit."""

from __future__ import annotations

import math
from functools import total_ordering
from typing import Union

from .errors import DimensionalityError, UnitError
from .units import DIMENSIONLESS, Unit, parse_unit, split_prefix

UnitLike = Union[str, Unit]

#: The prefixes `Quantity.to_compact` picks from, one per power of 1000.
_COMPACT_PREFIXES = ("n", "u", "m", "", "k", "M", "G")


def _as_unit(unit: UnitLike) -> Unit:
    return unit if isinstance(unit, Unit) else parse_unit(unit)


@total_ordering
class Quantity:
    """A magnitude together with its unit.

    >>> Quantity(1.5, "km").to("m")
    Quantity(1500.0, 'm')
    """

    __slots__ = ("magnitude", "unit")

    def __init__(self, magnitude: float, unit: UnitLike = DIMENSIONLESS) -> None:
        self.magnitude = float(magnitude)
        self.unit = _as_unit(unit)

    # -- conversion ---------------------------------------------------------------
    def to(self, unit: UnitLike) -> Quantity:
        """The same quantity expressed in ``unit``."""
        target = _as_unit(unit)
        if not self.unit.is_compatible(target):
            raise DimensionalityError(self.unit, target)
        if target == self.unit:
            return Quantity(self.magnitude, target)
        return Quantity(target.from_base(self.unit.to_base(self.magnitude)), target)

    def m_as(self, unit: UnitLike) -> float:
        """The magnitude of this quantity in ``unit``."""
        return self.to(unit).magnitude

    def to_base(self) -> float:
        """The magnitude in SI base units."""
        return self.unit.to_base(self.magnitude)

    def to_compact(self) -> Quantity:
        """The same quantity with the SI prefix that brings the magnitude into [1, 1000).

        >>> Q(1500, "m").to_compact()
        Quantity(1.5, 'km')

        Units that take no prefix (``h``, ``degC``, ``m/s``, ...) are returned as they are.
        """
        found = split_prefix(self.unit.symbol)
        if found is None:
            return self
        root = found[1]
        value = self.m_as(root)
        step = math.floor(math.log10(value) / 3)
        step = max(-3, min(3, step))
        return self.to(_COMPACT_PREFIXES[step + 3] + root.symbol)

    # -- arithmetic ---------------------------------------------------------------
    def _same_unit(self, other: object, operation: str) -> float:
        if not isinstance(other, Quantity):
            if self.unit.dimensionless and isinstance(other, (int, float)):
                return float(other)
            raise TypeError(f"cannot {operation} {type(other).__name__} and Quantity")
        if self.unit.offset and other.unit != self.unit:
            raise UnitError(f"cannot {operation} {other.unit} and {self.unit}")
        return other.to(self.unit).magnitude

    def __add__(self, other: object) -> Quantity:
        return Quantity(self.magnitude + self._same_unit(other, "add"), self.unit)

    __radd__ = __add__

    def __sub__(self, other: object) -> Quantity:
        return Quantity(self.magnitude - self._same_unit(other, "subtract"), self.unit)

    def __rsub__(self, other: object) -> Quantity:
        return Quantity(self._same_unit(other, "subtract") - self.magnitude, self.unit)

    def __mul__(self, other: object) -> Quantity:
        if isinstance(other, Quantity):
            return Quantity(self.magnitude * other.magnitude, self.unit * other.unit)
        if isinstance(other, (int, float)):
            return Quantity(self.magnitude * other, self.unit)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Quantity:
        if isinstance(other, Quantity):
            return Quantity(self.magnitude / other.magnitude, self.unit / other.unit)
        if isinstance(other, (int, float)):
            return Quantity(self.magnitude / other, self.unit)
        return NotImplemented

    def __rtruediv__(self, other: object) -> Quantity:
        if isinstance(other, (int, float)):
            return Quantity(other / self.magnitude, DIMENSIONLESS / self.unit)
        return NotImplemented

    def __pow__(self, power: int) -> Quantity:
        return Quantity(self.magnitude**power, self.unit**power)

    def __neg__(self) -> Quantity:
        return Quantity(-self.magnitude, self.unit)

    def __abs__(self) -> Quantity:
        return Quantity(abs(self.magnitude), self.unit)

    # -- comparison ---------------------------------------------------------------
    def _base_of(self, other: object) -> float:
        if not isinstance(other, Quantity):
            raise TypeError(f"cannot compare Quantity with {type(other).__name__}")
        if not self.unit.is_compatible(other.unit):
            raise DimensionalityError(other.unit, self.unit)
        return other.to_base()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity) or not self.unit.is_compatible(other.unit):
            return False
        return math.isclose(self.to_base(), other.to_base(), rel_tol=1e-9, abs_tol=1e-12)

    def __lt__(self, other: object) -> bool:
        return self.to_base() < self._base_of(other)

    __hash__ = None  # type: ignore[assignment]

    # -- display --------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Quantity({self.magnitude!r}, {self.unit.symbol!r})"

    def __str__(self) -> str:
        return f"{self.magnitude:g} {self.unit}".rstrip()

    def __format__(self, spec: str) -> str:
        return f"{format(self.magnitude, spec)} {self.unit}".rstrip()


def Q(magnitude: float, unit: UnitLike = DIMENSIONLESS) -> Quantity:  # noqa: N802
    """Shorthand for `Quantity`."""
    return Quantity(magnitude, unit)
