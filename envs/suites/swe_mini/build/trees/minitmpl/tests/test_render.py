from dataclasses import dataclass

import pytest

from minitmpl import Markup, Template, TemplateSyntaxError, render


@dataclass
class User:
    name: str
    email: str = ""

    def display(self):
        return f"{self.name} <{self.email}>"


def test_plain_text():
    assert render("hello") == "hello"


def test_variable():
    assert render("Hi {{ name }}!", name="Ada") == "Hi Ada!"


def test_variables_mapping_and_kwargs():
    assert Template("{{ a }}{{ b }}").render({"a": 1, "b": 2}, b=3) == "13"


def test_missing_variable_is_empty():
    assert render("[{{ nope }}][{{ nope.deeper }}]") == "[][]"


def test_none_is_empty():
    assert render("[{{ x }}]", x=None) == "[]"


def test_attribute_lookup():
    assert render("{{ user.name }}", user=User("Ada")) == "Ada"


def test_method_is_called():
    assert render("{{ user.display }}", user=User("Ada", "ada@example.org")) == "Ada &lt;ada@example.org&gt;"


def test_dict_lookup():
    assert render("{{ user.name }}", user={"name": "Ada"}) == "Ada"


def test_nested_lookup():
    assert render("{{ a.b.c }}", a={"b": {"c": "deep"}}) == "deep"


def test_index_lookup():
    assert render("{{ rows.1.name }}", rows=[{"name": "a"}, {"name": "b"}]) == "b"


def test_index_out_of_range_is_empty():
    assert render("[{{ rows.5 }}]", rows=[1]) == "[]"


def test_literals():
    assert render('{{ "text" }} {{ 42 }} {{ 1.5 }}') == "text 42 1.5"


def test_autoescape():
    assert render("{{ html }}", html="<b>&'\"") == "&lt;b&gt;&amp;&#39;&#34;"


def test_markup_is_not_escaped():
    assert render("{{ html }}", html=Markup("<b>ok</b>")) == "<b>ok</b>"


def test_autoescape_off():
    assert Template("{{ html }}", autoescape=False).render(html="<b>") == "<b>"


def test_for_loop():
    assert render("{% for x in xs %}[{{ x }}]{% endfor %}", xs=[1, 2, 3]) == "[1][2][3]"


def test_for_loop_unpacking():
    out = render("{% for k, v in pairs %}{{ k }}={{ v }};{% endfor %}", pairs=[("a", 1), ("b", 2)])
    assert out == "a=1;b=2;"


def test_for_over_dict_items():
    out = render("{% for k, v in d.items %}{{ k }}={{ v }};{% endfor %}", d={"a": 1, "b": 2})
    assert out == "a=1;b=2;"


def test_for_empty_branch():
    assert render("{% for x in xs %}{{ x }}{% empty %}none{% endfor %}", xs=[]) == "none"


def test_for_over_missing_variable():
    assert render("{% for x in nope %}{{ x }}{% empty %}none{% endfor %}") == "none"


def test_loop_index():
    out = render("{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }} {% endfor %}", xs="abc")
    assert out == "1/0/3 2/1/2 3/2/1 "


def test_loop_first():
    out = render("{% for x in xs %}{% if loop.first %}*{% endif %}{{ x }}{% endfor %}", xs="abc")
    assert out == "*abc"


def test_loop_length():
    assert render("{% for x in xs %}{{ loop.length }}{% endfor %}", xs=[1, 2]) == "22"


def test_nested_loops_restore_outer_variables():
    source = "{% for x in xs %}{% for y in ys %}{{ x }}{{ y }} {% endfor %}{{ loop.index }};{% endfor %}"
    assert render(source, xs="ab", ys="12") == "a1 a2 1;b1 b2 2;"


def test_loop_variable_does_not_leak():
    assert render("{% for x in xs %}{% endfor %}[{{ x }}]", xs=[1]) == "[]"


def test_if_elif_else():
    source = "{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}"
    assert [render(source, n=n) for n in (1, 2, 3)] == ["one", "two", "many"]


def test_if_not_and_inequality():
    assert render("{% if not items %}empty{% endif %}", items=[]) == "empty"
    assert render('{% if role != "admin" %}user{% endif %}', role="guest") == "user"


def test_if_with_filter():
    assert render("{% if items|length == 2 %}pair{% endif %}", items=[1, 2]) == "pair"


def test_comments():
    assert render("a{# hidden #}b") == "ab"


@pytest.mark.parametrize(
    "source",
    ["{% for x in xs %}", "{% if x %}", "{% endif %}", "{% frobnicate %}", "{% for in xs %}{% endfor %}",
     "{{ a b }}", "{{ a| }}"],
    ids=["unclosed-for", "unclosed-if", "stray-endif", "unknown-tag", "bad-for", "two-names", "dangling-pipe"],
)
def test_syntax_errors(source):
    with pytest.raises(TemplateSyntaxError):
        Template(source)


def test_template_is_reusable():
    template = Template("{{ x }}")
    assert [template.render(x=i) for i in range(3)] == ["0", "1", "2"]
