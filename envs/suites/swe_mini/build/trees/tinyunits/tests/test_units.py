import pytest

from tinyunits import DIMENSIONLESS, UnitError, define, parse_unit
from tinyunits.units import lookup


def test_base_unit_lookup():
    metre = lookup("m")
    assert metre.factor == 1.0
    assert metre.dims == (1, 0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("symbol", "factor"),
    [("km", 1e3), ("mm", 1e-3), ("kg", 1.0), ("mg", 1e-6), ("us", 1e-6), ("GW", 1e9)],
)
def test_prefixes(symbol, factor):
    assert lookup(symbol).factor == pytest.approx(factor)


def test_micro_sign_prefix():
    assert lookup("µs").factor == pytest.approx(1e-6)


def test_exact_names_win_over_prefixes():
    assert lookup("min").factor == 60.0
    assert lookup("h").factor == 3600.0
    assert lookup("mi").factor == pytest.approx(1609.344)


def test_unknown_unit():
    with pytest.raises(UnitError, match="unknown unit 'parsec'"):
        lookup("parsec")


def test_prefix_on_non_prefixable_unit():
    with pytest.raises(UnitError):
        lookup("kin")


def test_parse_compound_unit():
    unit = parse_unit("kg*m/s^2")
    assert unit.dims == lookup("N").dims
    assert unit.factor == pytest.approx(1.0)
    assert unit.symbol == "kg*m/s^2"


def test_parse_reads_left_to_right():
    assert parse_unit("J/kg*K").dims == (2, 0, -2, 1, 0, 0)


def test_parse_reciprocal():
    unit = parse_unit("1/s")
    assert unit.dims == lookup("Hz").dims
    assert unit.symbol == "1/s"


def test_parse_negative_exponent():
    assert parse_unit("m*s^-2").dims == parse_unit("m/s^2").dims


def test_parse_ignores_spaces():
    assert parse_unit(" km / h ").factor == pytest.approx(1000 / 3600)


def test_empty_is_dimensionless():
    assert parse_unit("") is DIMENSIONLESS
    assert DIMENSIONLESS.dimensionless


def test_parse_garbage():
    with pytest.raises(UnitError):
        parse_unit("m/")


def test_define_rejects_duplicates():
    with pytest.raises(UnitError, match="already defined"):
        define("m", 1.0, (1, 0, 0, 0, 0, 0))


def test_offset_units_cannot_be_combined():
    with pytest.raises(UnitError, match="offset unit"):
        parse_unit("degC/s")
    with pytest.raises(UnitError):
        parse_unit("degF^2")
