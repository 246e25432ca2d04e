import pytest

from minitmpl import FilterError, Markup, register, render
from minitmpl.filters import FILTERS


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ s|upper }}", "HELLO WORLD"),
        ("{{ s|title }}", "Hello World"),
        ("{{ s|capitalize }}", "Hello world"),
        ("{{ s|length }}", "11"),
        ("{{ s|upper|lower }}", "hello world"),
        ('{{ s|truncate:8 }}', "hello..."),
        ('{{ s|truncate:8,"~" }}', "hello w~"),
        ("{{ s|truncate:50 }}", "hello world"),
    ],
    ids=["upper", "title", "capitalize", "length", "chain", "truncate", "truncate-ellipsis", "truncate-short"],
)
def test_string_filters(source, expected):
    assert render(source, s="hello world") == expected


def test_trim():
    assert render("[{{ s|trim }}]", s="  x  ") == "[x]"


def test_default():
    assert render('{{ missing|default:"n/a" }}') == "n/a"
    assert render('{{ empty|default:"n/a" }}', empty="") == "n/a"
    assert render('{{ zero|default:"n/a" }}', zero=0) == "0"


def test_default_with_variable_argument():
    assert render("{{ nick|default:name }}", name="Ada") == "Ada"


def test_join():
    assert render('{{ xs|join:" | " }}', xs=[1, 2, 3]) == "1 | 2 | 3"
    assert render("{{ xs|join }}", xs=["a", "b"]) == "a, b"


def test_first_and_last():
    assert render("{{ xs|first }}-{{ xs|last }}", xs=[1, 2, 3]) == "1-3"
    assert render("[{{ xs|first }}]", xs=[]) == "[]"


def test_sort():
    assert render("{{ xs|sort|join }}", xs=[3, 1, 2]) == "1, 2, 3"
    assert render("{{ xs|sort:none,true|join }}", xs=[3, 1, 2]) == "3, 2, 1"


def test_sort_by_key():
    people = [{"name": "Bo", "age": 40}, {"name": "Al", "age": 30}]
    assert render('{{ people|sort:"age"|map:"name"|join }}', people=people) == "Al, Bo"


def test_map_attribute():
    class Item:
        def __init__(self, title):
            self.title = title

    assert render('{{ items|map:"title"|join }}', items=[Item("a"), Item("b")]) == "a, b"


def test_escape_and_safe():
    assert render("{{ html|safe }}", html="<b>") == "<b>"
    assert render("{{ html|escape }}", html="<b>") == "&lt;b&gt;"


def test_markup_concatenation_escapes_the_other_side():
    assert Markup("<b>") + "<i>" == "<b>&lt;i&gt;"


def test_unknown_filter():
    with pytest.raises(FilterError, match="unknown filter 'shout'"):
        render("{{ x|shout }}", x=1)


def test_bad_filter_arguments():
    with pytest.raises(FilterError, match="filter 'length'"):
        render("{{ x|length }}", x=5)


def test_register_custom_filter():
    @register("reverse")
    def reverse(value):
        return str(value)[::-1]

    try:
        assert render("{{ s|reverse }}", s="abc") == "cba"
    finally:
        del FILTERS["reverse"]


def test_wordcount():
    assert render("{{ s|wordcount }}", s="  the quick\nbrown fox ") == "4"
    assert render("{{ s|wordcount }}", s="") == "0"
