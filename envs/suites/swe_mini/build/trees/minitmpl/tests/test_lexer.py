import pytest

from minitmpl import TemplateSyntaxError
from minitmpl.lexer import Token, tokenize


def test_text_only():
    assert tokenize("hello") == [Token("text", "hello", 1)]


def test_kinds_and_stripping():
    tokens = tokenize("a{{ x }}b{%  if y  %}c")
    assert [(t.kind, t.value) for t in tokens] == [
        ("text", "a"), ("output", "x"), ("text", "b"), ("tag", "if y"), ("text", "c"),
    ]


def test_comments_are_dropped():
    assert [t.kind for t in tokenize("a{# note #}b")] == ["text", "text"]


def test_multiline_comment():
    assert tokenize("{# one\ntwo #}x") == [Token("text", "x", 2)]


def test_line_numbers():
    tokens = tokenize("line1\n{{ a }}\n\n{% b %}")
    assert [t.lineno for t in tokens] == [1, 2, 2, 4]


def test_unclosed_output():
    with pytest.raises(TemplateSyntaxError, match="line 2: unclosed '{{'"):
        tokenize("ok\n{{ oops")


def test_empty_tag():
    with pytest.raises(TemplateSyntaxError, match="empty"):
        tokenize("{{   }}")


def test_lone_braces_are_text():
    assert tokenize("{ a } %}") == [Token("text", "{ a } %}", 1)]
