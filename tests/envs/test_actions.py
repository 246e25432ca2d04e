"""Action parsing: three formats, and errors that teach the format."""

from __future__ import annotations

import pytest

from envs.core.actions import FormatError, parse_action
from envs.core.tools import DEFAULT_TOOLS, coerce_arguments

TOOLS = DEFAULT_TOOLS


def test_bash_block() -> None:
    call = parse_action(
        "Let me look.\n```bash\nls -la /testbed\n```", "bash_block", ("bash", "submit")
    )
    assert (call.name, call.arguments, call.thought) == (
        "bash",
        {"command": "ls -la /testbed"},
        "Let me look.",
    )
    assert (
        parse_action("Done.\n```bash\nsubmit\n```", "bash_block", ("bash", "submit")).name
        == "submit"
    )


@pytest.mark.parametrize("text", ["no block", "```bash\na\n```\n```bash\nb\n```", "```bash\n\n```"])
def test_bash_block_errors(text: str) -> None:
    with pytest.raises(FormatError):
        parse_action(text, "bash_block", ("bash", "submit"))


def test_xml_call_with_multiline_parameter() -> None:
    text = (
        "I will fix it.\n<function=str_replace_editor>\n<parameter=command>str_replace</parameter>\n"
        "<parameter=path>/testbed/a.py</parameter>\n<parameter=old_str>\n  x = 1\n  y = 2\n</parameter>\n"
        "<parameter=new_str>  x = 2</parameter>\n</function>"
    )
    call = parse_action(text, "xml", TOOLS)
    assert call.name == "str_replace_editor" and call.thought == "I will fix it."
    assert call.arguments["old_str"] == "  x = 1\n  y = 2"
    assert call.arguments["new_str"] == "  x = 2"


def test_json_shapes() -> None:
    a = parse_action(
        'ok\n```json\n{"name": "bash", "arguments": {"command": "pwd"}}\n```', "json", TOOLS
    )
    b = parse_action(
        '{"type": "function", "function": {"name": "bash", "arguments": "{\\"command\\": \\"pwd\\"}"}}',
        "json",
        TOOLS,
    )
    c = parse_action('<tool_call>{"name": "submit", "arguments": {}}</tool_call>', "json", TOOLS)
    assert (
        a.arguments == b.arguments == {"command": "pwd"}
        and a.thought == "ok"
        and c.name == "submit"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"name": "bash", "arguments": {"command": }', "not valid JSON"),
        ('{"arguments": {}}', '"name"'),
        ('{"name": "rm_rf", "arguments": {}}', "unknown tool"),
        ("just prose", "found no JSON"),
    ],
)
def test_json_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(FormatError, match=fragment):
        parse_action(text, "json", TOOLS)


def test_coerce_arguments_by_schema() -> None:
    args = coerce_arguments(
        "str_replace_editor",
        {"command": "insert", "path": "/a", "insert_line": "3", "new_str": "42"},
    )
    assert args["insert_line"] == 3 and args["new_str"] == "42"
    assert coerce_arguments(
        "str_replace_editor", {"command": "view", "path": "/a", "view_range": "[1, 5]"}
    )["view_range"] == [1, 5]
    with pytest.raises(FormatError, match="needs argument"):
        coerce_arguments("bash", {})
    with pytest.raises(FormatError, match="no argument"):
        coerce_arguments("bash", {"command": "ls", "cwd": "/"})
