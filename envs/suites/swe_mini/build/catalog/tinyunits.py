"""tinyunits: physical quantities with units (src layout, pyproject.toml)."""

from envs.suites.swe_mini.build.model import Change, Commit, Instance, Person, RepoDef

MAYA = Person("Maya Lindqvist", "maya@lindqvist.example.org")
OSKAR = Person("Oskar Brandt", "oskar.brandt@example.com")

UNITS = "src/tinyunits/units.py"
QUANTITY = "src/tinyunits/quantity.py"
INIT = "src/tinyunits/__init__.py"

# -- history ---------------------------------------------------------------------------------------
PARSE_QUANTITY = (
    Change(
        INIT,
        """from .errors import DimensionalityError, UnitError
from .quantity import Q, Quantity
""",
        """from .errors import DimensionalityError, UnitError
from .parsing import parse_quantity
from .quantity import Q, Quantity
""",
    ),
    Change(
        INIT,
        """    "define",
    "parse_unit",
""",
        """    "define",
    "parse_quantity",
    "parse_unit",
""",
    ),
    Change(
        "README.md",
        """```python
>>> from tinyunits import Q
>>> Q(90, "km/h").to("m/s")
Quantity(25.0, 'm/s')
>>> Q(3.5, "kg") * Q(2, "m/s^2")
""",
        """```python
>>> from tinyunits import Q, parse_quantity
>>> Q(90, "km/h").to("m/s")
Quantity(25.0, 'm/s')
>>> parse_quantity("3.5 kg") * Q(2, "m/s^2")
""",
    ),
    Change(
        "README.md",
        """  dimensions raises `DimensionalityError`.
""",
        """  dimensions raises `DimensionalityError`.
* `parse_quantity()` reads strings like `"12.5 km/h"`, `"-3.5 m/s"` or `"1_000 m"`.
""",
    ),
)

TEMPERATURE = (
    Change(
        UNITS,
        '''    """A unit: how to get from it to the SI base units of its dimensions.

    ``factor`` converts to base units: ``base = value * factor``.
    """

    symbol: str
    factor: float
    dims: Dims = _NONE
''',
        '''    """A unit: how to get from it to the SI base units of its dimensions.

    ``factor`` and ``offset`` describe the conversion to base units:
    ``base = value * factor + offset``.  Only temperature scales such as
    degrees Celsius have a non-zero offset, and such units cannot be
    multiplied, divided or raised to a power.
    """

    symbol: str
    factor: float
    dims: Dims = _NONE
    offset: float = 0.0
''',
    ),
    Change(
        UNITS,
        '''        """Convert ``value`` in this unit to the SI base unit."""
        return value * self.factor

    def from_base(self, value: float) -> float:
        """Convert ``value`` in the SI base unit to this unit."""
        return value / self.factor

    def __mul__(self, other: Unit) -> Unit:
''',
        '''        """Convert ``value`` in this unit to the SI base unit."""
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
''',
    ),
    Change(
        UNITS,
        """    def __truediv__(self, other: Unit) -> Unit:
""",
        """    def __truediv__(self, other: Unit) -> Unit:
        self._check_linear("divide")
        other._check_linear("divide")
""",
    ),
    Change(
        UNITS,
        """    def __pow__(self, power: int) -> Unit:
""",
        """    def __pow__(self, power: int) -> Unit:
        self._check_linear("raise")
""",
    ),
    Change(
        UNITS,
        '''def define(symbol: str, factor: float, dims: Dims, *, prefixable: bool = False) -> Unit:
    """Add a unit to the registry and return it."""
    if symbol in _UNITS:
        raise UnitError(f"unit {symbol!r} is already defined")
    unit = Unit(symbol, factor, dims)
''',
        '''def define(symbol: str, factor: float, dims: Dims, offset: float = 0.0, *,
           prefixable: bool = False) -> Unit:
    """Add a unit to the registry and return it."""
    if symbol in _UNITS:
        raise UnitError(f"unit {symbol!r} is already defined")
    unit = Unit(symbol, factor, dims, offset)
''',
    ),
    Change(
        UNITS,
        """define("oz", 0.028349523125, _M)
""",
        """define("oz", 0.028349523125, _M)

# Temperature scales
define("degC", 1.0, _THETA, offset=273.15)
define("degF", 5 / 9, _THETA, offset=273.15 - 32 * 5 / 9)
""",
    ),
    Change(
        "src/tinyunits/quantity.py",
        """            raise TypeError(f"cannot {operation} {type(other).__name__} and Quantity")
        return other.to(self.unit).magnitude
""",
        """            raise TypeError(f"cannot {operation} {type(other).__name__} and Quantity")
        if self.unit.offset and other.unit != self.unit:
            raise UnitError(f"cannot {operation} {other.unit} and {self.unit}")
        return other.to(self.unit).magnitude
""",
    ),
    Change(
        "src/tinyunits/quantity.py",
        "from .errors import DimensionalityError\n",
        "from .errors import DimensionalityError, UnitError\n",
    ),
    Change(
        "tests/test_units.py",
        "",
        """

def test_offset_units_cannot_be_combined():
    with pytest.raises(UnitError, match="offset unit"):
        parse_unit("degC/s")
    with pytest.raises(UnitError):
        parse_unit("degF^2")
""",
    ),
    Change(
        "tests/test_quantity.py",
        "from tinyunits import DimensionalityError, Q, Quantity\n",
        "from tinyunits import DimensionalityError, Q, Quantity, UnitError\n",
    ),
    Change(
        "tests/test_quantity.py",
        "",
        """

def test_celsius_to_kelvin():
    assert Q(25, "degC").m_as("K") == pytest.approx(298.15)
    assert Q(0, "K").m_as("degC") == pytest.approx(-273.15)


def test_offset_units_add_in_same_unit():
    assert (Q(20, "degC") + Q(5, "degC")).magnitude == 25
    with pytest.raises(UnitError):
        Q(20, "degC") + Q(5, "K")


def test_offset_units_cannot_be_multiplied():
    with pytest.raises(UnitError):
        Q(20, "degC") * Q(2, "s")
""",
    ),
    Change(
        "README.md",
        """Quantity(7.0, 'kg*m/s^2')
```
""",
        """Quantity(7.0, 'kg*m/s^2')
>>> Q(20, "degC").to("K")
Quantity(293.15, 'K')
```
""",
    ),
    Change(
        "README.md",
        """  dimensions raises `DimensionalityError`.
""",
        """  dimensions raises `DimensionalityError`.
* Temperature scales (`K`, `degC`, `degF`).  Offset units can be converted and
  added to quantities in the same unit, but not multiplied or divided.
""",
    ),
)

RELEASE_0_3 = (
    Change("pyproject.toml", 'version = "0.2.0"', 'version = "0.3.0"'),
    Change(INIT, '__version__ = "0.2.0"', '__version__ = "0.3.0"'),
    Change(
        "CHANGELOG.md",
        "# Changelog\n\n",
        """# Changelog

## 0.3.0 (2024-02-05)

* Temperature scales: `degC` and `degF`, converted through kelvin.
* Offset units refuse to be multiplied, divided or raised to a power.

""",
    ),
)

COMPACT = (
    Change(
        UNITS,
        "_TERM = re.compile(",
        '''def split_prefix(symbol: str) -> tuple[str, Unit] | None:
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


_TERM = re.compile(''',
    ),
    Change(
        QUANTITY,
        "from .units import DIMENSIONLESS, Unit, parse_unit\n",
        "from .units import DIMENSIONLESS, Unit, parse_unit, split_prefix\n",
    ),
    Change(
        QUANTITY,
        "UnitLike = Union[str, Unit]\n",
        """UnitLike = Union[str, Unit]

#: The prefixes `Quantity.to_compact` picks from, one per power of 1000.
_COMPACT_PREFIXES = ("n", "u", "m", "", "k", "M", "G")
""",
    ),
    Change(
        QUANTITY,
        """        return self.unit.to_base(self.magnitude)
""",
        '''        return self.unit.to_base(self.magnitude)

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
''',
    ),
    Change(
        "tests/test_quantity.py",
        "",
        """

@pytest.mark.parametrize(
    ("magnitude", "unit", "expected", "symbol"),
    [(1500, "m", 1.5, "km"), (0.0042, "s", 4.2, "ms"), (2_500_000, "W", 2.5, "MW"),
     (0.002, "kg", 2, "g"), (750, "mm", 750, "mm"), (3e12, "m", 3000, "Gm")],
    ids=["kilo", "milli", "mega", "gram", "unchanged", "clamped"],
)
def test_to_compact(magnitude, unit, expected, symbol):
    q = Q(magnitude, unit).to_compact()
    assert q.magnitude == pytest.approx(expected)
    assert q.unit.symbol == symbol


def test_to_compact_leaves_unprefixable_units():
    assert Q(7200, "s").to("h").to_compact().unit.symbol == "h"
    assert Q(3000, "m/s").to_compact().unit.symbol == "m/s"
""",
    ),
    Change(
        "README.md",
        "* `parse_quantity()` reads",
        """* `Quantity.to_compact()` picks the SI prefix that keeps the number readable
  (`Q(1500, "m").to_compact()` is `1.5 km`).
* `parse_quantity()` reads""",
    ),
)

COMMITS = (
    Commit(
        "init",
        "Initial commit: units, prefixes and quantities",
        "2024-01-08T10:12:44+01:00",
        add=(
            ".gitignore",
            "LICENSE",
            "pyproject.toml",
            "README.md",
            "src/tinyunits/__init__.py",
            "src/tinyunits/errors.py",
            UNITS,
            "src/tinyunits/quantity.py",
            "tests/test_units.py",
            "tests/test_quantity.py",
        ),
        changes=(),
    ),
    Commit(
        "parse",
        "Add parse_quantity() to read quantities written as text",
        "2024-01-14T16:40:02+01:00",
        add=("src/tinyunits/parsing.py", "tests/test_parse_quantity.py"),
        changes=PARSE_QUANTITY,
    ),
    Commit(
        "v0.2.0",
        "Release 0.2.0",
        "2024-01-15T09:03:17+01:00",
        add=("CHANGELOG.md",),
        changes=(
            Change("pyproject.toml", 'version = "0.1.0"', 'version = "0.2.0"'),
            Change(INIT, '__version__ = "0.1.0"', '__version__ = "0.2.0"'),
        ),
        tag="v0.2.0",
    ),
    Commit(
        "temperature",
        "Support temperature scales (degC, degF)\n\nOffset units convert through "
        "kelvin and cannot be multiplied,\ndivided or raised to a power.\n",
        "2024-01-31T21:15:38+01:00",
        changes=TEMPERATURE,
        author=OSKAR,
    ),
    Commit(
        "v0.3.0", "Release 0.3.0", "2024-02-05T11:27:50+01:00", changes=RELEASE_0_3, tag="v0.3.0"
    ),
    Commit(
        "compact",
        "Add Quantity.to_compact()\n\nPicks the SI prefix that brings the magnitude into [1, 1000).\n",
        "2024-02-18T19:06:23+01:00",
        changes=COMPACT,
    ),
)

# -- instances -------------------------------------------------------------------------------------
SCIENTIFIC = Instance(
    number=1,
    base="v0.2.0",
    version="0.2",
    created_at="2024-01-22T08:51:12Z",
    summary="`parse_quantity()` rejects scientific notation (`1.5e3 m`): the number regex has no exponent",
    difficulty="easy",
    problem_statement="""parse_quantity() does not accept scientific notation

I'm reading measurements exported by a lab instrument, which writes every value in
scientific notation. tinyunits chokes on all of them:

```python
>>> from tinyunits import parse_quantity
>>> parse_quantity("1.5e3 m")
Traceback (most recent call last):
  ...
tinyunits.errors.UnitError: cannot parse unit 'e3 m'
>>> parse_quantity("6.02E23 mol")
Traceback (most recent call last):
  ...
tinyunits.errors.UnitError: cannot parse unit 'E23 mol'
```

Plain decimals like `parse_quantity("12.5 km")` work. I expected `Quantity(1500.0, 'm')`
here, since `float("1.5e3")` is a perfectly valid number in Python. Negative exponents
(`2.5e-3 s`) and numbers without a unit (`1e6`) fail the same way.

tinyunits 0.2.0, Python 3.11
""",
    fix=(
        Change(
            "src/tinyunits/parsing.py",
            '_NUMBER = r"[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)"',
            '_NUMBER = r"[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?"',
        ),
    ),
    tests=(
        Change(
            "tests/test_parse_quantity.py",
            "",
            """

@pytest.mark.parametrize(
    ("text", "magnitude", "unit"),
    [
        ("1.5e3 m", 1500.0, "m"),
        ("6.02E23 mol", 6.02e23, "mol"),
        ("2.5e-3 s", 0.0025, "s"),
        ("-4.2E+2 J", -420.0, "J"),
        ("1e6", 1e6, ""),
    ],
    ids=["lowercase", "uppercase", "negative-exponent", "signed", "no-unit"],
)
def test_parse_scientific_notation(text, magnitude, unit):
    q = parse_quantity(text)
    assert q.magnitude == pytest.approx(magnitude)
    assert q.unit.symbol == unit


def test_parse_scientific_notation_converts():
    assert parse_quantity("2.5e-3 s").m_as("ms") == pytest.approx(2.5)
""",
        ),
    ),
    fail_to_pass=tuple(
        f"tests/test_parse_quantity.py::test_parse_scientific_notation[{i}]"
        for i in ("lowercase", "uppercase", "negative-exponent", "signed", "no-unit")
    )
    + ("tests/test_parse_quantity.py::test_parse_scientific_notation_converts",),
)

FAHRENHEIT = Instance(
    number=2,
    base="v0.3.0",
    version="0.3",
    created_at="2024-02-09T17:03:41Z",
    summary="Fahrenheit conversions are wrong: `Unit.to_base`/`from_base` apply the offset before scaling (2 places)",
    difficulty="medium",
    problem_statement="""Fahrenheit conversions are way off (Celsius works)

I'm converting weather data from a US station with the new temperature support in 0.3.0
and the numbers are nonsense:

```python
>>> from tinyunits import Q
>>> Q(212, "degF").to("degC")
Quantity(-13.498765432098764, 'degC')
>>> Q(100, "degC").to("degF")
Quantity(416.29777777777775, 'degF')
>>> Q(32, "degF").to("K")
Quantity(159.65, 'K')
```

Expected 100 degC, 212 degF and 273.15 K. Celsius <-> kelvin is fine
(`Q(25, "degC").to("K")` gives 298.15), so it looks like only Fahrenheit is affected, in
both directions.

tinyunits 0.3.0, Python 3.11.7
""",
    fix=(
        Change(
            UNITS,
            '''        """Convert ``value`` in this unit to the SI base unit."""
        return (value + self.offset) * self.factor

    def from_base(self, value: float) -> float:
        """Convert ``value`` in the SI base unit to this unit."""
        return value / self.factor - self.offset
''',
            '''        """Convert ``value`` in this unit to the SI base unit."""
        return value * self.factor + self.offset

    def from_base(self, value: float) -> float:
        """Convert ``value`` in the SI base unit to this unit."""
        return (value - self.offset) / self.factor
''',
        ),
    ),
    tests=(
        Change(
            "tests/test_quantity.py",
            "",
            """

@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [(32, 0), (212, 100), (-40, -40), (98.6, 37)],
    ids=["freezing", "boiling", "crossover", "body"],
)
def test_fahrenheit_to_celsius(fahrenheit, celsius):
    assert Q(fahrenheit, "degF").m_as("degC") == pytest.approx(celsius)


def test_celsius_to_fahrenheit():
    assert Q(100, "degC").m_as("degF") == pytest.approx(212)
    assert Q(-17.5, "degC").m_as("degF") == pytest.approx(0.5)


def test_fahrenheit_and_kelvin():
    assert Q(32, "degF").m_as("K") == pytest.approx(273.15)
    assert Q(0, "K").m_as("degF") == pytest.approx(-459.67)
""",
        ),
    ),
    fail_to_pass=tuple(
        f"tests/test_quantity.py::test_fahrenheit_to_celsius[{i}]"
        for i in ("freezing", "boiling", "crossover", "body")
    )
    + (
        "tests/test_quantity.py::test_celsius_to_fahrenheit",
        "tests/test_quantity.py::test_fahrenheit_and_kelvin",
    ),
)

SUM = Instance(
    number=3,
    base="compact",
    version="0.3",
    created_at="2024-02-21T13:37:05Z",
    summary="`sum()` of quantities raises `TypeError`: `__radd__` rejects the start value 0",
    difficulty="easy",
    problem_statement="""sum() over a list of quantities raises TypeError

Adding up a few lengths is the most basic thing I wanted to do, and the builtin `sum()`
does not work:

```python
>>> from tinyunits import Q
>>> legs = [Q(1.2, "km"), Q(800, "m"), Q(350, "m")]
>>> sum(legs)
Traceback (most recent call last):
  ...
TypeError: cannot add int and Quantity
```

`legs[0] + legs[1] + legs[2]` works and gives `Quantity(2.35, 'km')`. I know `sum()` starts
from `0`, so `sum(legs, Q(0, "km"))` is a workaround, but pint accepts the plain `sum(legs)`
because adding a zero changes nothing. I'd expect `sum()` to return the total in the unit
of the first item, and `sum([Q(3, "s")])` to be `Quantity(3.0, 's')`.

Adding any *other* plain number to a quantity with a dimension should keep raising
`TypeError`.

tinyunits 0.3.0 (main)
""",
    fix=(
        Change(
            QUANTITY,
            """    __radd__ = __add__
""",
            """    def __radd__(self, other: object) -> Quantity:
        # sum() starts from the integer 0: adding a zero changes nothing, whatever the unit.
        if isinstance(other, (int, float)) and not isinstance(other, bool) and other == 0:
            return Quantity(self.magnitude, self.unit)
        return self.__add__(other)
""",
        ),
    ),
    tests=(
        Change(
            "tests/test_quantity.py",
            "",
            """

def test_sum_of_quantities():
    total = sum([Q(1.2, "km"), Q(800, "m"), Q(350, "m")])
    assert total.unit.symbol == "km"
    assert total.magnitude == pytest.approx(2.35)


def test_sum_of_one_quantity():
    assert sum([Q(3, "s")]) == Q(3, "s")
    assert sum([Q(3, "s")]).unit.symbol == "s"


def test_sum_with_a_start_quantity():
    assert sum([Q(1, "m")], Q(1, "km")) == Q(1001, "m")


def test_adding_other_numbers_still_fails():
    with pytest.raises(TypeError):
        5 + Q(1, "m")
    with pytest.raises(TypeError):
        Q(1, "m") + 0
""",
        ),
    ),
    fail_to_pass=(
        "tests/test_quantity.py::test_sum_of_quantities",
        "tests/test_quantity.py::test_sum_of_one_quantity",
    ),
)

COMPACT_SIGN = Instance(
    number=4,
    base="compact",
    version="0.3",
    created_at="2024-02-26T09:14:48Z",
    summary="`to_compact()` raises `ValueError: math domain error` for negative and zero values (`log10` of the signed value)",
    difficulty="easy",
    problem_statement="""to_compact() crashes on negative values and on zero

`Quantity.to_compact()` from main is great for printing, but it blows up as soon as a value
is negative or zero, which happens all the time for currents and position deltas:

```python
>>> from tinyunits import Q
>>> Q(1500, "m").to_compact()
Quantity(1.5, 'km')
>>> Q(-1500, "m").to_compact()
Traceback (most recent call last):
  ...
ValueError: math domain error
>>> Q(0, "mA").to_compact()
Traceback (most recent call last):
  ...
ValueError: math domain error
```

The prefix should be chosen from the size of the value, whatever its sign:
`Q(-1500, "m").to_compact()` should be `Quantity(-1.5, 'km')` and `Q(-0.25, "A")` should
become `-250 mA`. There is no sensible prefix for zero; I'd expect the quantity back
unchanged (`Q(0, "mA").to_compact()` is `Quantity(0.0, 'mA')`).
""",
    fix=(
        Change(
            QUANTITY,
            """        value = self.m_as(root)
        step = math.floor(math.log10(value) / 3)
""",
            """        value = self.m_as(root)
        if value == 0:
            return self
        step = math.floor(math.log10(abs(value)) / 3)
""",
        ),
    ),
    tests=(
        Change(
            "tests/test_quantity.py",
            "",
            """

@pytest.mark.parametrize(
    ("magnitude", "unit", "expected", "symbol"),
    [(-1500, "m", -1.5, "km"), (-0.25, "A", -250, "mA"), (-4.2e-6, "s", -4.2, "us")],
    ids=["kilo", "milli", "micro"],
)
def test_to_compact_negative(magnitude, unit, expected, symbol):
    q = Q(magnitude, unit).to_compact()
    assert q.magnitude == pytest.approx(expected)
    assert q.unit.symbol == symbol


def test_to_compact_zero():
    q = Q(0, "mA").to_compact()
    assert (q.magnitude, q.unit.symbol) == (0, "mA")
""",
        ),
    ),
    fail_to_pass=tuple(
        f"tests/test_quantity.py::test_to_compact_negative[{i}]" for i in ("kilo", "milli", "micro")
    )
    + ("tests/test_quantity.py::test_to_compact_zero",),
)

REPO = RepoDef(
    name="tinyunits",
    maintainer=MAYA,
    description="physical quantities with units",
    commits=COMMITS,
    instances=(SCIENTIFIC, FAHRENHEIT, SUM, COMPACT_SIGN),
)
