"""Reference policies: `OraclePolicy` replays the task's reference solution, `EmptyPolicy` submits.

Both emit real actions through the env's tools, in the episode's action format, so their
trajectories are ordinary ones (usable as expert trajectories for imitation) and the harness,
the grader and the report are exercised end to end.

The oracle asks the task for its solution as bash commands: `task.oracle_actions() -> list[str]`
(SWE-bench: a heredoc writing the gold patch and `git apply`; Terminal-Bench / Harbor: the
solution script). A task without `oracle_actions` cannot be run by the oracle.
"""

from __future__ import annotations

import json
from typing import Any

from agents.actions import render_tool_call
from agents.policies.base import EpisodeContext, PolicyOutput
from envs.core.task import OracleTask

_FENCE = "```"


def _thought(name: str) -> str:
    return (
        "Done: submitting."
        if name == "submit"
        else "Running the next step of the reference solution."
    )


def render_call(name: str, arguments: dict[str, str], action_format: str) -> str:
    """One tool call as the text of a whole assistant turn in `action_format`."""
    return render_tool_call(name, arguments, action_format, _thought(name))


def _fits(command: str, action_format: str) -> bool:
    """Whether `command` survives the format's parser unchanged."""
    if action_format == "bash_block":
        return _FENCE not in command
    if action_format == "xml":
        return "</parameter>" not in command and "</function>" not in command
    return _FENCE not in command and "</tool_call>" not in command  # json: inside a ```json fence


def _output(name: str, arguments: dict[str, str], action_format: str, native: bool) -> PolicyOutput:
    """The turn: with native tool calling (`tools` were passed to `act`) the text is the thought
    and the call is in `tool_calls`, as an OpenAI model returns it; else the rendered call."""
    call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    text = _thought(name) if native else render_call(name, arguments, action_format)
    return PolicyOutput(
        text=text, tool_calls=[call], usage={"prompt_tokens": 0, "completion_tokens": 0}
    )


class EmptyPolicy:
    """Submits at once: the floor every real policy must beat (0% on any sound suite)."""

    name = "empty"

    def __init__(self) -> None:
        self._format = "xml"

    def start_episode(self, context: EpisodeContext) -> None:
        self._format = str(getattr(context, "action_format", "xml"))

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        return _output("submit", {}, self._format, tools is not None)


class OraclePolicy:
    """Runs `task.oracle_actions()` one bash call per turn, then submits (100% on a sound suite).

    A command that the action format could not carry verbatim (a fence inside a bash block,
    `</parameter>` inside XML) is sent base64-encoded and decoded by bash instead.
    """

    name = "oracle"

    def __init__(self) -> None:
        self._format = "xml"
        self._queue: list[str] = []

    def start_episode(self, context: EpisodeContext) -> None:
        task = context.task
        if not isinstance(task, OracleTask):
            raise TypeError(
                f"the oracle policy needs the task object with oracle_actions() for "
                f"{context.task_id!r}; its suite does not provide one"
            )
        self._format = str(getattr(context, "action_format", "xml"))
        self._queue = [str(c) for c in task.oracle_actions()]

    def act(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> PolicyOutput:
        if not self._queue:
            return _output("submit", {}, self._format, tools is not None)
        command = _carried(self._queue.pop(0), self._format)
        return _output("bash", {"command": command}, self._format, tools is not None)


def _carried(command: str, action_format: str) -> str:
    """`command`, or its base64-encoded form where the format could not carry it verbatim."""
    return command if _fits(command, action_format) else encoded_command(command)


def demonstration(commands: list[str], action_format: str) -> list[str]:
    """The oracle's episode as env actions in `action_format`: one bash call per command,
    then `submit` (RL's expert trajectories for expert-prefix resampling)."""
    calls = [
        render_call("bash", {"command": _carried(c, action_format)}, action_format)
        for c in commands
    ]
    return [*calls, render_call("submit", {}, action_format)]


def encoded_command(command: str) -> str:
    """`command` run through base64, for text no action format could carry verbatim."""
    import base64

    blob = base64.b64encode(command.encode()).decode()
    return (
        f"echo {blob} | base64 -d > /tmp/.ale-oracle.sh && bash /tmp/.ale-oracle.sh; "
        "__rc=$?; rm -f /tmp/.ale-oracle.sh; (exit $__rc)"
    )
