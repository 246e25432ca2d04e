"""Turning a policy's output into the env's text action (native tool calls are rendered)."""

from __future__ import annotations

import json
import re
from typing import Any

from agents.policies.base import PolicyOutput

_FENCE = "```"
_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def parse_tool_calls(text: str) -> list[dict[str, Any]] | None:
    """Native tool calls written by a model as `<tool_call>{"name", "arguments"}</tool_call>`
    (the tiny model's and Qwen's template convention), in OpenAI shape; None if there are none."""
    calls: list[dict[str, Any]] = []
    for raw in _TOOL_CALL.findall(text):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            args = obj.get("arguments", {})
            calls.append(
                {
                    "id": f"call_{len(calls)}",
                    "type": "function",
                    "function": {
                        "name": obj["name"],
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
            )
    return calls or None


def render_tool_call(
    name: str, arguments: dict[str, Any], action_format: str, thought: str = ""
) -> str:
    """One tool call as a whole turn in `action_format` ("xml", "json", "bash_block")."""
    prefix = f"{thought.strip()}\n" if thought.strip() else ""
    if action_format == "bash_block":
        body = "submit" if name == "submit" else str(arguments.get("command", ""))
        return f"{prefix}{_FENCE}bash\n{body}\n{_FENCE}"
    if action_format == "xml":
        params = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in arguments.items())
        return f"{prefix}<function={name}>\n{params}</function>"
    if action_format == "json":
        return (
            f"{prefix}{_FENCE}json\n{json.dumps({'name': name, 'arguments': arguments})}\n{_FENCE}"
        )
    raise ValueError(f"cannot render a tool call in action format {action_format!r}")


def to_action(out: PolicyOutput, action_format: str, native_tools: bool) -> str:
    """The env action for `out`: its text, or (native tool calling) its first tool call rendered."""
    if native_tools and out.tool_calls and action_format != "text":
        fn = out.tool_calls[0].get("function", out.tool_calls[0])
        args = fn.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                return out.text  # the env reports the format error to the policy
        return render_tool_call(str(fn.get("name")), dict(args), action_format, out.text)
    return out.text
