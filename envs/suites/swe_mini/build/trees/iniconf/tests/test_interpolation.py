import pytest

from iniconf import InterpolationError, loads
from iniconf.interpolation import references


def test_same_section_reference():
    cfg = loads("[paths]\nroot = /srv\nstatic = ${root}/static\n")
    assert cfg.get("paths", "static") == "/srv/static"


def test_reference_to_default():
    cfg = loads("root = /srv\n[app]\nlogs = ${root}/logs\n")
    assert cfg.get("app", "logs") == "/srv/logs"


def test_cross_section_reference():
    cfg = loads("[db]\nhost = db.local\n[app]\ndsn = postgres://${db:host}/app\n")
    assert cfg.get("app", "dsn") == "postgres://db.local/app"


def test_nested_references():
    cfg = loads("[a]\nx = 1\ny = ${x}2\nz = ${y}3\n")
    assert cfg.get("a", "z") == "123"


def test_references_are_case_insensitive():
    cfg = loads("[a]\nHome = /home/me\nrc = ${HOME}/.rc\n")
    assert cfg.get("a", "rc") == "/home/me/.rc"


def test_dollar_escape():
    cfg = loads("[a]\nprice = $$5 or ${cur}5\ncur = EUR \n")
    assert cfg.get("a", "price") == "$5 or EUR5"


def test_missing_reference():
    cfg = loads("[a]\nx = ${nope}\n")
    with pytest.raises(InterpolationError, match="bad reference"):
        cfg.get("a", "x")


def test_self_reference():
    cfg = loads("[a]\nx = ${x}\n")
    with pytest.raises(InterpolationError, match="circular reference"):
        cfg.get("a", "x")


def test_circular_references():
    cfg = loads("[a]\nx = ${y}\ny = ${z}\nz = ${x}\n")
    with pytest.raises(InterpolationError, match="circular reference"):
        cfg.get("a", "x")


def test_empty_reference():
    with pytest.raises(InterpolationError, match="empty reference"):
        loads("[a]\nx = ${}\n").get("a", "x")


def test_interpolation_can_be_turned_off():
    cfg = loads("[a]\nx = 1\ny = ${x}\n", interpolation=False)
    assert cfg.get("a", "y") == "${x}"


def test_raw_is_never_interpolated():
    cfg = loads("[a]\nx = 1\ny = ${x}\n")
    assert cfg.raw("a", "y") == "${x}"


def test_typed_getters_interpolate():
    cfg = loads("[a]\nbase = 80\nport = ${base}80\n")
    assert cfg.getint("a", "port") == 8080


def test_items_interpolates_every_value():
    cfg = loads("[a]\nx = 1\ny = <${x}>\n")
    assert cfg.items("a") == {"x": "1", "y": "<1>"}


def test_references():
    assert references("${root}/a/${paths:home}/$$x") == {"root", "paths:home"}
