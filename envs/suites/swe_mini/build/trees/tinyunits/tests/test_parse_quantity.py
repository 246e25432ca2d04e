import pytest

from tinyunits import Q, UnitError, parse_quantity


@pytest.mark.parametrize(
    ("text", "magnitude", "unit"),
    [
        ("12 km", 12.0, "km"),
        ("12.5 km/h", 12.5, "km/h"),
        ("-3.5 m/s", -3.5, "m/s"),
        ("+7 s", 7.0, "s"),
        (".5 h", 0.5, "h"),
        ("3.", 3.0, ""),
        ("10m/s", 10.0, "m/s"),
        ("  42   kg  ", 42.0, "kg"),
        ("9.81 m/s^2", 9.81, "m/s^2"),
    ],
    ids=["int", "float", "negative", "plus", "leading-dot", "trailing-dot", "no-space", "padded", "exponent-unit"],
)
def test_parse(text, magnitude, unit):
    q = parse_quantity(text)
    assert q.magnitude == pytest.approx(magnitude)
    assert q.unit.symbol == unit


def test_parse_dimensionless():
    assert parse_quantity("3").unit.dimensionless


def test_parse_digit_separators():
    assert parse_quantity("1_000 m").magnitude == 1000


def test_parse_result_converts():
    assert parse_quantity("90 km/h").to("m/s") == Q(25, "m/s")


@pytest.mark.parametrize(
    "text",
    ["", "km", "12 parsecs", "1.2.3 m", "--4 m"],
    ids=["empty", "no-number", "unknown-unit", "two-dots", "double-sign"],
)
def test_parse_errors(text):
    with pytest.raises(UnitError):
        parse_quantity(text)
