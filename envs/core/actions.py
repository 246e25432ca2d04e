"""Parsing one agent turn (free text) into one tool call, in three selectable formats.

* `bash_block` (mini-swe-agent style): thoughts, then exactly one fenced block
  ```` ```bash ... ``` ````; a block holding only `submit` submits. Only `bash` and `submit`.
* `xml` (the format Qwen3-Coder and OpenHands' text mode use)::

      <function=str_replace_editor>
      <parameter=command>view</parameter>
      <parameter=path>/testbed/setup.py</parameter>
      </function>

* `json` (OpenAI tool-call shape), bare or in a ```` ```json ```` block or `<tool_call>` tags:
  `{"name": "bash", "arguments": {"command": "ls"}}`, also
  `{"type": "function", "function": {"name": ..., "arguments": "<JSON string>"}}`.

XML parameters arrive as strings; the tool layer coerces them by its schema. A turn that does
not parse raises `FormatError` whose message tells the agent the accepted
format; the env turns it into an ordinary observation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from envs.core.errors import EnvError

ActionFormat = Literal["bash_block", "xml", "json"]
ACTION_FORMATS: tuple[ActionFormat, ...] = ("bash_block", "xml", "json")

_FENCE = re.compile(r"```(?:bash|sh|shell)?[ \t]*\n(.*?)\n?```", re.DOTALL)
_XML_FUNCTION = re.compile(r"<function=([\w.-]+)>(.*?)</function>", re.DOTALL)
_XML_PARAM = re.compile(r"<parameter=([\w.-]+)>\n?(.*?)\n?</parameter>", re.DOTALL)
_JSON_BLOCK = re.compile(r"```json[ \t]*\n(.*?)\n?```|<tool_call>(.*?)</tool_call>", re.DOTALL)


class FormatError(EnvError):
    """The agent's turn is not one well-formed tool call."""


@dataclass(frozen=True)
class ToolCall:
    """One parsed call: tool `name`, its `arguments`, and the text before it (`thought`)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    thought: str = ""


def format_help(fmt: ActionFormat, tools: tuple[str, ...]) -> str:
    """The reminder shown after a malformed turn."""
    if fmt == "bash_block":
        return (
            "Reply with your reasoning, then exactly ONE fenced block:\n```bash\n<command>\n```\n"
            "To finish, reply with a block containing only `submit`."
        )
    if fmt == "xml":
        return (
            "Reply with your reasoning, then exactly ONE call:\n<function=TOOL>\n"
            "<parameter=NAME>VALUE</parameter>\n</function>\n"
            f"TOOL is one of: {', '.join(tools)}."
        )
    return (
        "Reply with your reasoning, then exactly ONE JSON tool call, e.g.\n```json\n"
        '{"name": "bash", "arguments": {"command": "ls"}}\n```\n'
        f"name is one of: {', '.join(tools)}."
    )


def parse_action(text: str, fmt: ActionFormat, tools: tuple[str, ...]) -> ToolCall:
    """Parse `text` in format `fmt`; the tool must be one of `tools`."""
    if not isinstance(text, str):
        raise FormatError(f"the action must be text, got {type(text).__name__}")
    if fmt == "bash_block":
        call = _parse_bash_block(text)
    elif fmt == "xml":
        call = _parse_xml(text)
    elif fmt == "json":
        call = _parse_json(text)
    else:
        raise ValueError(f"unknown action format {fmt!r}; choose one of {ACTION_FORMATS}")
    if call.name not in tools:
        raise FormatError(f"unknown tool {call.name!r}; the tools are: {', '.join(tools)}.")
    return call


def _parse_bash_block(text: str) -> ToolCall:
    blocks = _FENCE.findall(text)
    if len(blocks) != 1:
        found = "no" if not blocks else f"{len(blocks)}"
        raise FormatError(f"found {found} fenced bash blocks; exactly one is needed.")
    command = blocks[0].strip("\n")
    thought = text[: text.find("```")].strip()
    if command.strip() == "submit":
        return ToolCall("submit", {}, thought)
    if not command.strip():
        raise FormatError("the bash block is empty.")
    return ToolCall("bash", {"command": command}, thought)


def _parse_xml(text: str) -> ToolCall:
    calls = _XML_FUNCTION.findall(text)
    if len(calls) != 1:
        found = "no" if not calls else f"{len(calls)}"
        raise FormatError(f"found {found} <function=...> calls; exactly one is needed.")
    name, body = calls[0]
    args = {k: v for k, v in _XML_PARAM.findall(body)}
    thought = text[: text.find("<function=")].strip()
    return ToolCall(name, args, thought)


def _parse_json(text: str) -> ToolCall:
    blocks = [a or b for a, b in _JSON_BLOCK.findall(text)]
    if not blocks and "{" in text:
        blocks = [text[text.find("{") : text.rfind("}") + 1]]
    candidates = blocks
    if len(candidates) != 1:
        found = "no" if not candidates else f"{len(candidates)}"
        raise FormatError(f"found {found} JSON tool calls; exactly one is needed.")
    try:
        obj = json.loads(candidates[0])
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"the tool call is not valid JSON ({exc.msg} at char {exc.pos})."
        ) from exc
    if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise FormatError('the JSON tool call needs a string "name" and an "arguments" object.')
    args = obj.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise FormatError(f'"arguments" is a string but not valid JSON ({exc.msg}).') from exc
    if not isinstance(args, dict):
        raise FormatError('"arguments" must be a JSON object.')
    start = text.find("```json") if "```json" in text else text.find("{")
    return ToolCall(obj["name"], args, text[: max(start, 0)].strip())
