"""The env's tools: `bash`, `str_replace_editor`, `submit`, with OpenAI-style JSON schemas.

`run_tool` executes one parsed `ToolCall` in a sandbox and returns a `ToolOutcome` (the
observation text plus facts for `info`). Tool misuse (missing argument, bad path, ambiguous
`old_str`) is an observation, not an exception; sandbox failures propagate as `SandboxError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.core.actions import FormatError, ToolCall
from envs.core.editor import Editor, EditorError
from envs.rock import ExecResult, Sandbox

TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "bash": {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "Run a command in a persistent bash shell (cwd and exports persist). "
            "Non-interactive: stdin is empty. Long output is cut to head and tail.",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string", "description": "The bash command."}},
                "required": ["command"],
            },
        },
    },
    "str_replace_editor": {
        "type": "function",
        "function": {
            "name": "str_replace_editor",
            "description": "View, create and edit files. `view` shows a file with line numbers "
            "or lists a directory; `create` writes a new file; `str_replace` "
            "replaces one unique occurrence of `old_str`; `insert` adds `new_str` "
            "after line `insert_line`; `undo_edit` reverts the last edit of `path`.",
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {
                        "type": "string",
                        "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
                    },
                    "path": {"type": "string", "description": "Absolute path."},
                    "file_text": {"type": "string"},
                    "old_str": {"type": "string"},
                    "new_str": {"type": "string"},
                    "insert_line": {"type": "integer"},
                    "view_range": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["command", "path"],
            },
        },
    },
    "submit": {
        "type": "function",
        "function": {
            "name": "submit",
            "description": "Finish: your changes are graded as they are now.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
}
DEFAULT_TOOLS: tuple[str, ...] = ("bash", "str_replace_editor", "submit")


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call produced. `exit_code` is the command's, or 0/1 for the editor."""

    observation: str
    exit_code: int = 0
    submitted: bool = False
    timed_out: bool = False
    output_truncated: bool = False


def coerce_arguments(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check required arguments and coerce XML strings to the schema's integer types."""
    params = TOOL_SCHEMAS[name]["function"]["parameters"]
    props: dict[str, Any] = params.get("properties", {})
    missing = [k for k in params.get("required", []) if k not in args]
    if missing:
        raise FormatError(f"tool {name!r} needs argument(s) {', '.join(missing)}.")
    unknown = [k for k in args if k not in props]
    if unknown:
        raise FormatError(
            f"tool {name!r} has no argument(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(props) or 'none'}."
        )
    out = dict(args)
    for key, value in args.items():
        if isinstance(value, str):
            check_text(key, value)
        kind = props[key].get("type")
        try:
            if kind == "integer" and isinstance(value, str):
                out[key] = int(value.strip())
            elif kind == "array" and isinstance(value, str):
                out[key] = [int(v) for v in value.strip().strip("[]").split(",")]
        except ValueError as exc:
            raise FormatError(
                f"argument {key!r} of {name!r} must be {kind}, got {value!r}."
            ) from exc
    return out


#: Arguments that become a command line or a path, where a NUL byte cannot go.
NO_NUL = ("command", "path")


def check_text(key: str, value: str) -> None:
    """`FormatError` for text that cannot be passed on: a lone surrogate (not Unicode), or a NUL
    in a command or path (bash and the kernel would silently cut it there)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise FormatError(
            f"argument {key!r} contains U+{ord(bad):04X} at character {exc.start}, a lone "
            "surrogate that is not valid Unicode text; remove it."
        ) from None
    if key in NO_NUL and "\x00" in value:
        raise FormatError(
            f"argument {key!r} contains a NUL byte at character {value.index(chr(0))}; a "
            "command or path cannot carry one (to write the byte, use printf '\\0' in bash)."
        )


def format_bash(result: ExecResult, timeout: float) -> str:
    """The observation of a bash call: output, then exit code / timeout notes."""
    text = result.output
    notes = []
    if result.timed_out:
        notes.append(
            f"[timed out after {timeout:g} s: the command was killed; run long jobs in "
            "the background or with a smaller input]"
        )
    elif result.exit_code != 0:
        notes.append(f"[exit code {result.exit_code}]")
    if result.session_restarted:
        notes.append("[the shell was restarted: exported variables were lost]")
    if notes:
        text = text + ("\n" if text and not text.endswith("\n") else "") + "\n".join(notes)
    return text or "[no output]"


def run_tool(
    call: ToolCall, sandbox: Sandbox, editor: Editor, command_timeout: float
) -> ToolOutcome:
    """Execute `call` in `sandbox`."""
    args = coerce_arguments(call.name, call.arguments)
    if call.name == "submit":
        return ToolOutcome("Submitted.", submitted=True)
    if call.name == "bash":
        result = sandbox.run(str(args["command"]), timeout=command_timeout)
        return ToolOutcome(
            format_bash(result, command_timeout),
            result.exit_code,
            timed_out=result.timed_out,
            output_truncated=result.truncated,
        )
    try:
        return ToolOutcome(editor.execute(**args))
    except EditorError as exc:
        return ToolOutcome(f"Error: {exc}", exit_code=1)
