import pytest

from tinyunits import DimensionalityError, Q, Quantity, UnitError


def test_convert_length():
    assert Q(1.5, "km").to("m").magnitude == pytest.approx(1500)
    assert Q(12, "in").to("ft").magnitude == pytest.approx(1)


def test_convert_speed():
    assert Q(90, "km/h").m_as("m/s") == pytest.approx(25)


def test_convert_to_same_unit_keeps_magnitude():
    q = Q(0.1, "mi")
    assert q.to("mi").magnitude == 0.1


def test_incompatible_conversion():
    with pytest.raises(DimensionalityError, match="cannot convert from 'kg' to 'm'"):
        Q(1, "kg").to("m")


def test_add_converts_to_left_unit():
    total = Q(1, "km") + Q(250, "m")
    assert total.unit.symbol == "km"
    assert total.magnitude == pytest.approx(1.25)


def test_subtract():
    assert (Q(1, "h") - Q(15, "min")).m_as("min") == pytest.approx(45)


def test_add_incompatible():
    with pytest.raises(DimensionalityError):
        Q(1, "m") + Q(1, "s")


def test_add_plain_number_to_dimensionless():
    assert (Q(2) + 3).magnitude == 5
    with pytest.raises(TypeError):
        Q(2, "m") + 3


def test_multiply_and_divide():
    force = Q(2, "kg") * Q(3, "m/s^2")
    assert force.m_as("N") == pytest.approx(6)
    speed = Q(100, "m") / Q(20, "s")
    assert speed.m_as("km/h") == pytest.approx(18)


def test_scalar_arithmetic():
    assert (Q(2, "m") * 3).magnitude == 6
    assert (3 * Q(2, "m")).magnitude == 6
    assert (Q(6, "m") / 4).magnitude == 1.5


def test_reciprocal():
    frequency = 1 / Q(2, "ms")
    assert frequency.m_as("Hz") == pytest.approx(500)


def test_power():
    area = Q(3, "m") ** 2
    assert area.m_as("cm^2") == pytest.approx(90000)


def test_equality_across_units():
    assert Q(1, "km") == Q(1000, "m")
    assert Q(1, "km") != Q(1, "m")
    assert Q(1, "km") != Q(1, "s")


def test_ordering():
    assert Q(500, "m") < Q(1, "km")
    assert max(Q(3, "ft"), Q(1, "m")) == Q(1, "m")
    with pytest.raises(DimensionalityError):
        Q(1, "m") < Q(1, "s")


def test_quantities_are_unhashable():
    with pytest.raises(TypeError):
        hash(Q(1, "m"))


def test_repr_and_str():
    q = Q(2.5, "km/h")
    assert repr(q) == "Quantity(2.5, 'km/h')"
    assert str(q) == "2.5 km/h"
    assert f"{q:.2f}" == "2.50 km/h"
    assert str(Q(4)) == "4"


def test_quantity_constructor_accepts_unit_objects():
    q = Quantity(3, Q(1, "m").unit)
    assert q.unit.symbol == "m"


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
