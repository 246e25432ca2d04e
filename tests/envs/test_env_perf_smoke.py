"""The env benchmark (`bench.perf.env`) runs end to end; its timings are printed, never asserted."""

from __future__ import annotations

import math

import pytest

from bench.perf.env import PytestTask, bash_action, builtin_case, main
from envs.core.actions import ACTION_FORMATS, parse_action
from envs.rock import SandboxSpec
from envs.rock.factory import create_sandbox


@pytest.mark.parametrize("fmt", ACTION_FORMATS)
def test_bash_action_is_one_bash_call_in_each_format(fmt: str) -> None:
    call = parse_action(bash_action("cat /tmp/x", fmt), fmt, ("bash", "submit"))  # type: ignore[arg-type]
    assert call.name == "bash" and call.arguments == {"command": "cat /tmp/x"}


@pytest.mark.docker
def test_builtin_grading_task_grades_for_real() -> None:
    task = PytestTask()
    sb = create_sandbox(SandboxSpec(image=task.sandbox_spec().image, workdir="/app"), "docker")
    try:
        task.prepare(sb)
        good = task.grade(sb)
        assert good.reward == 1.0 and len(good.tests) == 23
        sb.write(
            "/app/calc.py",
            b"def mean(xs):\n    return 0\n\n\ndef clamp(x, lo, hi):\n    return x\n",
        )
        bad = task.grade(sb)
        assert bad.reward == 0.0 and "FAILED" in bad.tests.values()
        case = builtin_case()
        assert sb.run(case.command).exit_code != 0  # the direct command sees the same failure
    finally:
        sb.close()


@pytest.mark.docker
def test_env_benchmark_prints_ratio_table(capsys: pytest.CaptureFixture[str]) -> None:
    result = main(["--steps", "4", "--repeats", "2", "--grades", "2", "--grading-task", "builtin"])
    out = capsys.readouterr().out
    assert "grading tasks: builtin pytest task" in out
    for metric in (
        "step `true` p50 (ms)",
        "step 8 KiB cat p50 (ms)",
        "grade p50 (ms) builtin-pytest",
    ):
        assert metric in out
    rows = {r["metric"]: r for r in result["rows"]}
    assert len(rows) == 5
    for row in rows.values():
        assert row["env_ms"] > 0 and row["baseline_ms"] > 0
        assert math.isclose(row["ratio"], row["env_ms"] / row["baseline_ms"])
    (grading,) = result["grading"]
    assert grading["task"] == "builtin-pytest" and grading["label"] == builtin_case().label
    assert grading["rewards"] == [1.0, 1.0] and grading["direct_exit"] == [0, 0]
    assert len(grading["grade_s"]) == len(grading["direct_s"]) == 2
    assert "method: ABBA over env / bare, 2 repeats" in out
    assert "builtin-pytest: grading adds" in out
