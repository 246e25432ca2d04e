"""Reading quantities written as text, e.g. ``"12.5 km/h"``."""

from __future__ import annotations

import re

from .errors import UnitError
from .quantity import Quantity

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_QUANTITY = re.compile(rf"\s*(?P<number>{_NUMBER})\s*(?P<unit>.*?)\s*")


def parse_quantity(text: str) -> Quantity:
    """Parse a number followed by an optional unit expression.

    >>> parse_quantity("12.5 km/h")
    Quantity(12.5, 'km/h')
    >>> parse_quantity("3")
    Quantity(3.0, '')
    """
    match = _QUANTITY.fullmatch(text.replace("_", ""))
    if match is None:
        raise UnitError(f"cannot parse quantity {text!r}")
    return Quantity(float(match.group("number")), match.group("unit"))
