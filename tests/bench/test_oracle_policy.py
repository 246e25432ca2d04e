"""OraclePolicy / EmptyPolicy: real actions that parse in every action format."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agents.policies import EpisodeContext, make_policy
from agents.policies.oracle import EmptyPolicy, OraclePolicy
from envs.core.actions import parse_action

TRICKY = "printf '%s\\n' '```' '</parameter>' > out.txt"


class _Task:
    id = "t"

    def oracle_actions(self) -> list[str]:
        return ["echo one > a.txt", TRICKY]


@pytest.mark.parametrize("fmt", ["xml", "json", "bash_block"])
def test_oracle_emits_each_command_then_submits(fmt: str, tmp_path: Path) -> None:
    tools = ("bash", "submit") if fmt == "bash_block" else ("bash", "str_replace_editor", "submit")
    policy = make_policy("oracle")
    assert isinstance(policy, OraclePolicy)
    policy.start_episode(EpisodeContext(task_id="t", task=_Task(), action_format=fmt))
    calls = [parse_action(policy.act([]).text, fmt, tools) for _ in range(3)]  # type: ignore[arg-type]
    assert [c.name for c in calls] == ["bash", "bash", "submit"]
    assert calls[0].arguments["command"] == "echo one > a.txt"
    # the tricky command arrives verbatim or base64-wrapped; either way bash runs it unchanged
    subprocess.run(["bash", "-c", calls[1].arguments["command"]], cwd=tmp_path, check=True)
    assert (tmp_path / "out.txt").read_text() == "```\n</parameter>\n"
    assert parse_action(policy.act([]).text, fmt, tools).name == "submit"  # type: ignore[arg-type]  # keeps submitting


def test_empty_submits_and_oracle_needs_the_task() -> None:
    empty = make_policy("empty")
    assert isinstance(empty, EmptyPolicy)
    empty.start_episode(EpisodeContext(task_id="t", action_format="json"))
    assert parse_action(empty.act([]).text, "json", ("bash", "submit")).name == "submit"
    with pytest.raises(TypeError, match="oracle_actions"):
        OraclePolicy().start_episode(EpisodeContext(task_id="t", task=object()))


def test_swebench_task_oracle_actions_apply_the_gold_patch(tmp_path: Path) -> None:
    from envs.suites.swebench.task import SWEBenchTask

    repo = tmp_path / "testbed"
    repo.mkdir()
    (repo / "m.py").write_text("x = 1\n")
    subprocess.run(
        "git init -q && git add -A && git -c user.name=a -c user.email=a@b commit -qm base",
        shell=True,
        cwd=repo,
        check=True,
    )
    patch = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2  # ALE_GOLD_PATCH\n"
    task = SWEBenchTask(
        {
            "instance_id": "o__r-1",
            "repo": "o/r",
            "version": "1",
            "base_commit": "HEAD",
            "patch": patch,
            "problem_statement": "",
            "FAIL_TO_PASS": [],
            "PASS_TO_PASS": [],
        }
    )
    (command,) = task.oracle_actions()
    assert "<<'ALE_GOLD_PATCH_'" in command  # the delimiter avoids the patch's own text
    subprocess.run(
        ["bash", "-c", command.replace("/testbed", str(repo))], check=True, capture_output=True
    )
    assert (repo / "m.py").read_text() == "x = 2  # ALE_GOLD_PATCH\n"


def test_native_tool_calling_gives_the_call_once() -> None:
    from agents.actions import to_action

    policy = OraclePolicy()
    policy.start_episode(EpisodeContext(task_id="t", task=_Task(), action_format="xml"))
    out = policy.act([], tools=[{"type": "function", "function": {"name": "bash"}}])
    action = to_action(out, "xml", native_tools=True)
    call = parse_action(action, "xml", ("bash", "submit"))
    assert call.name == "bash" and call.arguments["command"] == "echo one > a.txt"
