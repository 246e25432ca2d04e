"""tinyunits: physical quantities with units, in plain Python.

>>> from tinyunits import Q
>>> Q(90, "km/h").to("m/s")
Quantity(25.0, 'm/s')
"""

from .errors import DimensionalityError, UnitError
from .parsing import parse_quantity
from .quantity import Q, Quantity
from .units import DIMENSIONLESS, Unit, define, parse_unit

__version__ = "0.3.0"

__all__ = [
    "DIMENSIONLESS",
    "DimensionalityError",
    "Q",
    "Quantity",
    "Unit",
    "UnitError",
    "define",
    "parse_quantity",
    "parse_unit",
]
