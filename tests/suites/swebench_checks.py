"""Checks shared by the SWE-bench suite tests and the swe-mini data tests: sandboxes started for a
task, the leak check of /testbed (history, refs, reflog, objects, file contents), and the verdict of
the official `swebench` grading functions on a saved log."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from swebench.harness.grading import get_eval_tests_report, get_logs_eval, get_resolution_status
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY

from envs.core.task import Grade
from envs.rock import Sandbox
from envs.suites.swebench import SWEBenchTask

TOP_DIRS = "$(ls -d /* | grep -vxE '/(proc|sys|dev)')"  # grep -r over /, minus the kernel's trees
#: Task images (derived) of test-made instances this process prepared: removed at module end
#: (conftest). Those of shipped suites are shared by parallel workers and stay (a cache).
TASK_IMAGES: set[tuple[str, str]] = set()


def git_out(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo.parent),
    }
    out = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return out.stdout


def started(
    task: SWEBenchTask, made: list[Sandbox], prepare: bool = True, backend: str = "docker"
) -> Sandbox:
    from envs.rock.factory import create_sandbox

    task.ensure_image(backend)
    if task.task_image is not None and task.id.startswith("ale-test__"):  # not shipped data's
        TASK_IMAGES.add((backend, task.task_image.derived.image))
        if task.task_image.choice.how == "built":  # its environment image, from this test's data
            TASK_IMAGES.add((backend, task.task_image.choice.image))
    sb = create_sandbox(task.sandbox_spec(), backend)
    made.append(sb)
    if prepare:
        task.prepare(sb)
    return sb


def remove_task_images() -> None:
    """Remove the task images `started` saw (one still in use after the bound stays)."""
    for backend, image in sorted(TASK_IMAGES, key=lambda item: "/env." in item[1]):
        remove_image(backend, image)  # task images before their sources
    TASK_IMAGES.clear()


def remove_image(backend: str, image: str, bound_s: float = 30.0) -> bool:
    """Remove a derived image this test made, polling while a just-closed sandbox still holds it
    (docker removes auto-removed containers asynchronously)."""
    from envs.rock.derived import DerivedImage, remove_derived

    deadline = time.monotonic() + bound_s
    while not remove_derived(DerivedImage(backend, image, {}, 0.0)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def sh(sb: Sandbox, command: str, timeout: float = 120) -> str:
    result = sb.run(command, timeout=timeout, session="test")
    assert result.ok, result.output
    return result.output


def host_history(source: Path, base: str, root: Path) -> tuple[set[str], set[str], str]:
    """(commits reachable from base, objects reachable from base, their contents) per the
    bundle or repository `source`."""
    clone = root / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(source), str(clone)], check=True)
    commits = set(git_out(clone, "rev-list", base).split())
    objects = {
        line.split()[0] for line in git_out(clone, "rev-list", "--objects", base).splitlines()
    }
    batch = subprocess.run(
        ["git", "-C", str(clone), "cat-file", "--batch"],
        input="\n".join(sorted(objects)) + "\n",
        capture_output=True,
        text=True,
        errors="replace",
        check=True,
    ).stdout
    return commits, objects, batch


def novel_lines(patch: str, known: str) -> list[str]:
    """Added lines of `patch` (10+ characters) that no object reachable from base holds."""
    added = {
        ln[1:].strip()
        for ln in patch.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    }
    return sorted(s for s in added if len(s) >= 10 and s not in known)


def found_in_sandbox(sb: Sandbox, lines: list[str]) -> set[str]:
    """Which of `lines` occur in any file under / (outside /proc, /sys, /dev)."""
    if not lines:
        return set()
    name = f"ale-pats-{time.monotonic_ns()}"
    sb.write(f"/root/{name}", ("\n".join(lines) + "\n").encode())
    out = sb.run(
        f"grep -rIFoh -D skip --exclude={name} -f /root/{name} {TOP_DIRS} | sort -u; rm -f /root/{name}",
        timeout=300,
        session="test",
    ).output
    return {ln for ln in out.splitlines() if ln in lines}


def assert_no_future(
    task: SWEBenchTask, sb: Sandbox, root: Path, baseline: set[str], source: Path | None = None
) -> None:
    """After prepare: history, refs, reflog and objects hold nothing after base_commit, and no
    line the fix or its tests add is anywhere in the sandbox (beyond what the image had).
    `source`: the repo the sandbox's came from (default: the task's bundle)."""
    source = source or task.image_choice().bundle
    assert source is not None
    base = task.base_commit
    commits, objects, known = host_history(source, base, root)
    logged = set(sh(sb, "cd /testbed && git log --all --format=%H").split())
    assert logged == commits
    assert sh(
        sb, "cd /testbed && git for-each-ref --format='%(objectname) %(refname)'"
    ).split() == [base, "refs/heads/main"]
    assert set(sh(sb, "cd /testbed && git reflog --format=%H").split()) <= commits
    assert set(sh(sb, "cd /testbed && git log --reflog --format=%H").split()) <= commits
    assert sh(sb, "cd /testbed && git stash list; git notes list; git tag; git remote") == ""
    stored = set(
        sh(
            sb, "cd /testbed && git cat-file --batch-all-objects --batch-check='%(objectname)'"
        ).split()
    )
    assert stored == objects
    assert "bundle" not in sh(sb, "ls -a /tmp /root /testbed")
    secret = novel_lines(str(task.instance["test_patch"]), known) + novel_lines(
        str(task.instance["patch"]), known
    )
    name = f"ale-objs-{time.monotonic_ns()}"
    sb.write(f"/root/{name}", ("\n".join(secret) + "\n").encode())
    hits = sb.run(
        f"cd /testbed && git cat-file --batch-all-objects --batch | grep -cFf /root/{name}; rm /root/{name}",
        timeout=120,
        session="test",
    ).output.strip()
    assert hits == "0", f"objects in /testbed hold lines of the fix: {secret}"
    assert found_in_sandbox(sb, secret) <= baseline


def official_verdict(task: SWEBenchTask, log: str, tmp: Path) -> tuple[bool, dict[str, Any]]:
    """The verdict of swebench's functions on a saved log, computed here independently.
    Fails when swebench parses no test result from the log."""
    from swebench.types import TestSpec

    inst = task.instance
    path = tmp / f"{task.id}.log"
    path.write_text(log)
    spec = TestSpec(
        instance_id=task.id,
        image="-",
        eval_script_list=[],
        repo=inst["repo"],
        version=inst["version"],
        FAIL_TO_PASS=list(inst["FAIL_TO_PASS"]),
        PASS_TO_PASS=list(inst["PASS_TO_PASS"]),
        log_parser=MAP_REPO_TO_PARSER_PY[inst["repo"]].__name__,
        eval_type="pass_and_fail",
    )
    status_map, found = get_logs_eval(spec, str(path))
    # a log swebench cannot parse would make every comparison with it vacuous
    assert found and status_map, f"swebench parsed no test results from {task.id}'s log"
    report = get_eval_tests_report(
        status_map, {"FAIL_TO_PASS": spec.FAIL_TO_PASS, "PASS_TO_PASS": spec.PASS_TO_PASS}
    )
    return get_resolution_status(report) == "RESOLVED_FULL", report


def check_oracle(
    task: SWEBenchTask, made: list[Sandbox], tmp: Path, backend: str = "docker"
) -> tuple[Grade, Grade]:
    """One sandbox: the empty patch gives 0, then the gold patch gives 1; both match swebench."""
    sb = started(task, made, backend=backend)
    empty = task.grade(sb)
    assert empty.error is None, empty.error
    assert empty.reward == 0.0 and not empty.resolved and empty.report["model_patch"] == ""
    task.apply_oracle(sb)
    gold = task.grade(sb)
    assert gold.error is None, gold.error
    assert gold.reward == 1.0 and gold.resolved, gold.log[-3000:]
    for grade in (empty, gold):
        resolved, report = official_verdict(task, grade.log, tmp)
        assert resolved == grade.resolved
        assert report == grade.report["tests_status"]
    assert all(gold.tests[t] == "PASSED" for t in task.metadata["FAIL_TO_PASS"])
    return empty, gold
