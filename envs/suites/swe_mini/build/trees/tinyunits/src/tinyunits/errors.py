"""Exceptions raised by tinyunits."""

from __future__ import annotations


class UnitError(ValueError):
    """A unit string could not be understood, or a unit was used incorrectly."""


class DimensionalityError(UnitError):
    """Two quantities of different dimensions were converted, added or compared."""

    def __init__(self, source: object, target: object) -> None:
        super().__init__(f"cannot convert from {str(source)!r} to {str(target)!r}")
        self.source = source
        self.target = target
