"""Grading in the episode's own sandbox, the official harness's steps in order.

1. The agent's patch: the working tree against the tree it had at reset (`testbed.diff_script`,
   binary-safe; files present at reset are not the agent's), kept in the report.
2. The test files of the test patch reset to base (new ones removed), the test patch checked
   with `git apply --check`. One that does not apply is a task error when it does not apply
   to the base commit either (the task is broken), else a verdict of 0 (the agent's changes
   stopped it, as they can).
3. The eval script (the dataset's, or one in the official shape from the repo spec) runs in a
   fresh shell session; its output is the log, with the official markers. No markers: a
   verdict of 0 (the script died before the tests, on what the agent left).
4. `swebench.harness.grading.get_eval_report` decides; `get_logs_eval` gives per-test statuses.
   Tests that run past `test_timeout_s` give reward 0 with `report["timed_out"]` and the limit
   (`test_timeout_s`): the patch's verdict (it may hang the tests), not a grading failure.
"""

from __future__ import annotations

import shlex
import uuid
from typing import TYPE_CHECKING, Any

from swebench.harness.constants import APPLY_PATCH_PASS

from envs.core.task import Grade
from envs.rock import SandboxFileError
from envs.rock.egress import allowed_while
from envs.suites.swebench import official_eval
from envs.suites.swebench.testbed import WORKDIR, bash, diff_script

if TYPE_CHECKING:
    from envs.rock import Sandbox
    from envs.suites.swebench.task import SWEBenchTask

GRADE_DIR = "/tmp/ale-grade"
GRADE_SESSION = "ale-grader"  # a fresh shell: the agent's exports and aliases do not reach it

MISSING = "MISSING"


def _failed(
    task: SWEBenchTask, why: str, log: str = "", patch: str | None = None, **kind: Any
) -> Grade:
    """No verdict: `error_kind="task"` when the task is broken, else infrastructure."""
    report = {"instance_id": task.id, "model_patch": patch}
    return Grade(
        reward=0.0, resolved=False, log=log, error=f"{task.id}: {why}", report=report, **kind
    )


def _not_resolved(task: SWEBenchTask, why: str, log: str, patch: str | None) -> Grade:
    """A verdict of 0 for a failure the agent's changes can cause (the official harness
    counts the instance as not resolved); the reason is kept in the report."""
    report = {
        "instance_id": task.id,
        "model_patch": patch,
        "patch_successfully_applied": False,
        "resolved": False,
        "problem": why,
    }
    return Grade(reward=0.0, resolved=False, log=log, report=report)


def _read_text(sandbox: Sandbox, path: str) -> str:
    try:
        return sandbox.read(path).decode("utf-8", errors="replace")
    except SandboxFileError:
        return ""


def agent_patch(task: SWEBenchTask, sandbox: Sandbox, where: str) -> tuple[str | None, str]:
    """(the agent's diff against /testbed at reset, or None if /testbed's git is unusable;
    output)."""
    out = f"{where}/model.patch"
    result = bash(
        sandbox,
        f"rm -rf {where}\nmkdir -m 700 {where}\n"
        + diff_script(task.base_commit, f"{where}/git", out),
        timeout=600,
        session=GRADE_SESSION,
    )
    if not result.ok:
        return None, result.output
    return _read_text(sandbox, out), result.output


def stage_test_patch(task: SWEBenchTask, sandbox: Sandbox, where: str) -> tuple[bool, str]:
    """Reset the test patch's files to base and check that it applies; (ok, output)."""
    path = f"{where}/test.patch"
    sandbox.write(path, str(task.instance["test_patch"]).encode())
    existing, added = official_eval.patch_files(str(task.instance["test_patch"]))
    lines = [f"cd {WORKDIR}"]
    if existing:
        lines.append(
            f"git checkout {task.base_commit} -- {' '.join(map(shlex.quote, existing))} || exit 4"
        )
    if added:
        lines.append(f"rm -rf -- {' '.join(map(shlex.quote, added))}")
    lines.append(f"git apply --check -v {path}")
    result = bash(sandbox, "\n".join(lines) + "\n", timeout=600, session=GRADE_SESSION)
    return result.ok, result.output


def base_accepts_test_patch(task: SWEBenchTask, sandbox: Sandbox, where: str) -> bool:
    """Whether the test patch applies to `base_commit` itself (checked against a scratch index
    read from the commit, so nothing the agent did to the working tree matters). False means
    the task is broken; True means the agent's changes are what stopped it."""
    result = bash(
        sandbox,
        f"cd {WORKDIR}\nexport GIT_INDEX_FILE={where}/base.index\n"
        f"git read-tree {task.base_commit} && git apply --cached --check {where}/test.patch\n",
        timeout=600,
        session=GRADE_SESSION,
    )
    return result.ok


def grade_sandbox(task: SWEBenchTask, sandbox: Sandbox) -> Grade:
    """The official verdict; raises `SandboxError` if the sandbox dies (the caller reports it)."""
    where = f"{GRADE_DIR}-{uuid.uuid4().hex[:12]}"  # a fresh folder the agent cannot have prepared
    patch, output = agent_patch(task, sandbox, where)
    if patch is None:  # the agent broke /testbed/.git: a failed episode, not an infra failure
        log = f"cannot diff /testbed against {task.base_commit}:\n{output}"
        report: dict[str, Any] = {
            "instance_id": task.id,
            "model_patch": None,
            "patch_is_None": True,
            "patch_exists": False,
            "patch_successfully_applied": False,
            "resolved": False,
        }
        return Grade(reward=0.0, resolved=False, log=log, report=report)
    ok, output = stage_test_patch(task, sandbox, where)
    if not ok:
        why = f"the test patch does not apply:\n{output[-2000:]}"
        if base_accepts_test_patch(task, sandbox, where):
            return _not_resolved(task, f"{why}\n(it applies at the base commit)", output, patch)
        return _failed(
            task, f"{why}\n(not even at the base commit)", output, patch, error_kind="task"
        )
    test_spec = official_eval.build_test_spec(
        task.instance, sandbox.spec.image, task.spec, f"{where}/test.patch", conda=task.conda
    )
    sandbox.write(f"{where}/eval.sh", test_spec.eval_script.encode(), mode=0o755)
    with allowed_while(sandbox, task.grading_allow):  # the package index for installs, opt-in
        result = sandbox.run(
            f"bash {where}/eval.sh > {where}/test_output.txt 2>&1",
            timeout=task.test_timeout_s,
            session=GRADE_SESSION,
        )
    test_output = _read_text(sandbox, f"{where}/test_output.txt")
    if result.timed_out:  # as the official harness words it, after the partial output
        log = f"{test_output}\n\nTimeout error: {task.test_timeout_s:.0f} seconds exceeded."
        report = {
            "instance_id": task.id,
            "model_patch": patch,
            "timed_out": True,  # a verdict on the patch (it may loop), never an infra error
            "test_timeout_s": task.test_timeout_s,
        }
        return Grade(reward=0.0, resolved=False, log=log, report=report)
    log = f"{APPLY_PATCH_PASS}: the sandbox's working tree ({len(patch)} bytes of diff)\n{test_output}"
    if not official_eval.has_markers(log):  # it died before the tests: what the agent left broke it
        return _not_resolved(task, "the eval script printed no test output markers", log, patch)
    entry, status_map = official_eval.evaluate_log(test_spec, log, patch)
    expected = [*test_spec.FAIL_TO_PASS, *test_spec.PASS_TO_PASS]
    tests = {**status_map, **{t: MISSING for t in expected if t not in status_map}}
    resolved = bool(entry["resolved"])
    report = {
        "instance_id": task.id,
        **entry,
        "model_patch": patch,
        "log_parser": test_spec.log_parser,
        "eval_type": test_spec.eval_type,
    }
    return Grade(
        reward=1.0 if resolved else 0.0, resolved=resolved, tests=tests, log=log, report=report
    )
