import pytest

from iniconf import ParseError, loads
from iniconf.parser import DEFAULT_SECTION, parse, unquote


def test_sections_and_keys():
    cfg = loads("[a]\nx = 1\n[b]\ny: 2\n")
    assert cfg.sections() == ["a", "b"]
    assert cfg.get("a", "x") == "1"
    assert cfg.get("b", "y") == "2"


def test_keys_are_case_insensitive():
    cfg = loads("[Server]\nHost = example.org\n")
    assert cfg.get("Server", "host") == "example.org"
    assert cfg.get("Server", "HOST") == "example.org"
    assert not cfg.has_section("server")


def test_keys_before_first_section_go_to_default():
    sections = parse("name = demo\n[a]\n")
    assert sections[DEFAULT_SECTION]["name"].text == "demo"


def test_full_line_comments():
    cfg = loads("# comment\n; another\n[a]\n  # indented comment\nx = 1\n")
    assert cfg.items("a") == {"x": "1"}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("x = 1 # one", "1"),
        ("x = 1 ; one", "1"),
        ("x = a#b", "a#b"),
        ("x = a;b", "a;b"),
        ("x = #", "#"),
    ],
    ids=["hash", "semicolon", "hash-inside-word", "semicolon-inside-word", "lone-hash"],
)
def test_inline_comments(line, value):
    assert loads(f"[a]\n{line}\n").get("a", "x") == value


def test_empty_value():
    assert loads("[a]\nx =\n").get("a", "x") == ""


def test_value_keeps_inner_separators():
    assert loads("[a]\nurl = http://host:80/a=b\n").get("a", "url") == "http://host:80/a=b"


def test_double_quotes_and_escapes():
    cfg = loads('[a]\nx = "  padded  "\ny = "tab\\there"\nz = "say \\"hi\\""\n')
    assert cfg.get("a", "x") == "  padded  "
    assert cfg.get("a", "y") == "tab\there"
    assert cfg.get("a", "z") == 'say "hi"'


def test_single_quotes_are_literal():
    assert loads("[a]\nx = 'C:\\new'\n").get("a", "x") == "C:\\new"


@pytest.mark.parametrize(
    ("text", "expected"),
    [('"abc"', "abc"), ("'abc'", "abc"), ('"abc', '"abc'), ('"', '"'), ("abc", "abc")],
    ids=["double", "single", "unbalanced", "lone-quote", "bare"],
)
def test_unquote(text, expected):
    assert unquote(text) == expected


def test_continuation_lines():
    cfg = loads("[a]\nx = first\n  second\n\tthird\ny = 2\n")
    assert cfg.get("a", "x") == "first\nsecond\nthird"
    assert cfg.get("a", "y") == "2"


def test_blank_line_ends_continuation():
    with pytest.raises(ParseError):
        loads("[a]\nx = first\n\n  second\n")


def test_duplicate_key():
    with pytest.raises(ParseError, match="line 3: duplicate key 'x' in \\[a\\]"):
        loads("[a]\nx = 1\nX = 2\n")


def test_duplicate_section():
    with pytest.raises(ParseError, match="duplicate section"):
        loads("[a]\n[b]\n[a]\n")


def test_garbage_line():
    with pytest.raises(ParseError, match="config.ini, line 2"):
        loads("[a]\nnot an option\n", source="config.ini")


def test_empty_section_name():
    with pytest.raises(ParseError, match="empty section name"):
        loads("[ ]\n")


def test_section_header_with_comment():
    assert loads("[a] # the a section\nx = 1\n").sections() == ["a"]
