"""swe-mini: the shipped data, its regeneration, its leaks, its oracle runs and their parity.

Without Docker: the schema and size of the suite, that the bundles are what the generator makes
(same SHAs, same bytes, same patches), that no bundle or problem statement holds a fix, and that
our verdict equals swebench's on logs for every instance. With Docker (`-m docker`): nothing after
base_commit in /testbed and no test of the test patch anywhere in the sandbox; the gold patch
gives reward 1 and the empty patch 0 for every instance, with swebench's verdict on the same logs;
`gymnasium.make("ale/SWEMini-v0")` runs an episode. `-m slow`: every oracle 3 times out of 3.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT, TEST_EXIT_CODE

from envs.core.task import Grade
from envs.rock import DEFAULT_IMAGE, Sandbox
from envs.suites.swe_mini.build.catalog import REPOS
from envs.suites.swe_mini.build.generate import KEYS, commit_history, diff_paths, make_diff
from envs.suites.swe_mini.build.gitutil import git
from envs.suites.swe_mini.build.model import RepoDef
from envs.suites.swebench import SWEBenchTask, swe_mini
from envs.suites.swebench import official_eval as grading
from envs.suites.swebench.suite import SWE_MINI_DATA
from tests.suites.swebench_checks import (
    assert_no_future,
    check_oracle,
    host_history,
    novel_lines,
    official_verdict,
    started,
)

JSONL = SWE_MINI_DATA / "swe-mini.jsonl"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in JSONL.read_text(encoding="utf-8").splitlines()
]
IDS = [row["instance_id"] for row in ROWS]
BY_ID = {row["instance_id"]: row for row in ROWS}


def oldest_base_per_repo() -> list[str]:
    """One instance per repository: the one with the most history after its base to hide."""
    picked: dict[str, tuple[int, str]] = {}
    for repo in REPOS:
        order = [c.key for c in repo.commits]
        for inst in repo.instances:
            rank = order.index(inst.base)
            if repo.name not in picked or rank < picked[repo.name][0]:
                picked[repo.name] = (rank, repo.instance_id(inst))
    return [iid for _, iid in picked.values()]


def clone(bundle: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(bundle), str(dest)], check=True)
    return dest


# -- the data, no Docker -------------------------------------------------------------------------
def test_suite_size_and_schema() -> None:
    assert len(ROWS) >= 12 and len(set(IDS)) == len(IDS)
    per_repo = Counter(row["repo"] for row in ROWS)
    assert len(per_repo) >= 3 and min(per_repo.values()) >= 4, per_repo
    specs = json.loads((SWE_MINI_DATA / "specs.json").read_text())
    for row in ROWS:
        iid = row["instance_id"]
        assert tuple(row) == KEYS, iid
        assert all(isinstance(row[k], str) for k in KEYS), iid
        assert (
            re.fullmatch(r"[0-9a-f]{40}", row["base_commit"])
            and row["environment_setup_commit"] == row["base_commit"]
        )
        f2p, p2p = json.loads(row["FAIL_TO_PASS"]), json.loads(row["PASS_TO_PASS"])
        assert f2p and p2p and not set(f2p) & set(p2p), iid
        assert all(re.fullmatch(r"tests/\S+\.py::\S+", t) for t in f2p + p2p), iid
        assert "test_cmd" in specs[row["repo"]][row["version"]], iid
        assert len(row["problem_statement"]) > 300, iid
        assert (SWE_MINI_DATA / "repos" / f"{row['repo'].split('/')[1]}.bundle").is_file(), iid


def test_patches_split_code_from_tests() -> None:
    """The gold patch changes code only, the test patch tests only, and it names every F2P file."""
    for row in ROWS:
        code, tests = diff_paths(row["patch"]), diff_paths(row["test_patch"])
        assert code and all(not p.startswith("tests/") for p in code), row["instance_id"]
        assert tests and all(p.startswith("tests/") for p in tests), row["instance_id"]
        assert {t.split("::")[0] for t in json.loads(row["FAIL_TO_PASS"])} <= set(tests)


@pytest.mark.parametrize("repo", REPOS, ids=lambda r: r.name)
def test_bundles_are_what_the_generator_makes(repo: RepoDef, tmp_path: Path) -> None:
    """Regenerating the history gives the same refs and SHAs (so the same content, commit dates
    and authors) and the same patches. (`build --check` also compares the bundles' bytes, which
    can differ across git versions; SHAs cannot.)"""
    root = tmp_path / repo.name
    root.mkdir()
    shas = commit_history(repo, root)
    again = tmp_path / "again.bundle"
    git(root, "bundle", "create", "-q", str(again), "--all")
    shipped = SWE_MINI_DATA / "repos" / f"{repo.name}.bundle"
    heads = git(root, "bundle", "list-heads", str(again))
    assert git(root, "bundle", "list-heads", str(shipped)) == heads, (
        f"{shipped} is stale: run python -m envs.suites.swe_mini.build"
    )
    assert shas[repo.commits[-1].key] in heads.split()
    git(root, "bundle", "verify", "-q", str(shipped))
    for inst in repo.instances:
        row = BY_ID[repo.instance_id(inst)]
        assert row["base_commit"] == shas[inst.base]
        assert row["patch"] == make_diff(root, shas[inst.base], inst.fix)
        assert row["test_patch"] == make_diff(root, shas[inst.base], inst.tests)
        assert json.loads(row["FAIL_TO_PASS"]) == list(inst.fail_to_pass)


@pytest.mark.parametrize("repo", REPOS, ids=lambda r: r.name)
def test_bundle_has_history_and_no_fix(repo: RepoDef, tmp_path: Path) -> None:
    """Each base has earlier commits; the patches apply at base; no object of the bundle (any
    commit, tag or blob, before or after base) holds a line that a fix or its tests add."""
    checkout = clone(SWE_MINI_DATA / "repos" / f"{repo.name}.bundle", tmp_path / "clone")
    everything = subprocess.run(
        ["git", "-C", str(checkout), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        text=True,
        errors="replace",
        check=True,
    ).stdout
    for inst in repo.instances:
        row = BY_ID[repo.instance_id(inst)]
        base = row["base_commit"]
        assert int(git(checkout, "rev-list", "--count", base)) >= 2, row["instance_id"]
        _, _, known = host_history(checkout, base, tmp_path / row["instance_id"])
        secret = novel_lines(row["patch"], known) + novel_lines(row["test_patch"], known)
        assert secret, row["instance_id"]
        assert [s for s in secret if s in everything] == [], row["instance_id"]
        git(checkout, "checkout", "-q", "--detach", "--force", base)
        for name in ("patch", "test_patch"):
            (tmp_path / "p.diff").write_text(row[name])
            git(checkout, "apply", "--check", str(tmp_path / "p.diff"))


def test_problem_statements_do_not_quote_the_fix() -> None:
    for row in ROWS:
        added = [
            ln[1:].strip()
            for ln in row["patch"].splitlines()
            if ln.startswith("+") and not ln.startswith("+++")
        ]
        quoted = [ln for ln in added if len(ln) >= 20 and ln in row["problem_statement"]]
        assert quoted == [], row["instance_id"]


def _log(lines: list[str], exit_code: int) -> str:
    body = "\n".join(lines)
    return (
        f">>>>> Applied Patch\n+ : '{START_TEST_OUTPUT}'\n{body}\n+ : '{END_TEST_OUTPUT}'\n"
        f"{TEST_EXIT_CODE}: {exit_code}\n"
    )


def scenarios(f2p: list[str], p2p: list[str]) -> Iterator[tuple[str, list[str], bool]]:
    """(name, pytest -rA summary lines, resolved?) for the cases a grader must tell apart."""
    passed = [f"PASSED {t}" for t in f2p + p2p]
    yield "all-pass", passed, True
    yield "one-f2p-fails", [*passed[1:], f"FAILED {f2p[0]} - AssertionError"], False
    yield "one-p2p-fails", [*passed[:-1], f"FAILED {p2p[-1]} - AssertionError"], False
    yield "f2p-missing", passed[1:], False
    yield "p2p-error", [*passed[:-1], f"ERROR {p2p[-1]} - fixture"], False
    yield "extra-test-fails", [*passed, "FAILED tests/test_zz.py::test_unrelated - x"], True
    yield "nothing-passes", [f"FAILED {t} - x" for t in f2p + p2p], False


@pytest.mark.parametrize("iid", IDS)
def test_verdicts_equal_swebench_on_logs(iid: str, tmp_path: Path) -> None:
    """Our grading (`grading.evaluate_log` on the task's TestSpec) and swebench's own functions
    (`get_logs_eval`, `get_eval_tests_report`, `get_resolution_status`) agree on every case."""
    task = swe_mini(task_ids=[iid]).load(iid)
    spec = grading.build_test_spec(task.instance, DEFAULT_IMAGE, task.spec, "/tmp/t.patch")
    f2p, p2p = list(task.instance["FAIL_TO_PASS"]), list(task.instance["PASS_TO_PASS"])
    for name, lines, expected in scenarios(f2p, p2p):
        log = _log(lines, 0 if all(ln.startswith("PASSED") for ln in lines) else 1)
        entry, _ = grading.evaluate_log(spec, log, task.instance["patch"])
        official, report = official_verdict(task, log, tmp_path)
        assert entry["resolved"] is official is expected, name
        assert report == entry["tests_status"], name


# -- Docker --------------------------------------------------------------------------------------
@pytest.mark.docker
@pytest.mark.parametrize("iid", oldest_base_per_repo())
def test_no_future_in_testbed(iid: str, sandboxes: list[Sandbox], tmp_path: Path) -> None:
    """`git log --all`, `git reflog`, refs and the object store hold nothing after base_commit;
    no line of the gold patch or of the tests to be applied is anywhere in the sandbox."""
    task = swe_mini(task_ids=[iid]).load(iid)
    bundle = task.image_choice().bundle
    assert bundle is not None
    with_future = clone(bundle, tmp_path / "full")
    later = set(git(with_future, "rev-list", "--all").split()) - set(
        git(with_future, "rev-list", task.base_commit).split()
    )
    assert later, f"{iid}: pick an instance with commits after its base"
    sb = started(task, sandboxes)
    assert_no_future(
        task, sb, tmp_path / "check", baseline=set()
    )  # the base image has none of the lines
    seen = sb.run(
        "cd /testbed && git log --all --reflog --format=%H; git cat-file --batch-all-objects "
        "--batch-check='%(objectname)'",
        timeout=120,
        session="t",
    ).output
    assert not later & set(seen.split())


@pytest.mark.docker
@pytest.mark.parametrize("iid", IDS)
def test_oracle_in_docker(iid: str, sandboxes: list[Sandbox], tmp_path: Path) -> None:
    """Empty patch: reward 0; gold patch: reward 1; swebench's functions agree on both logs."""
    empty, gold = check_oracle(swe_mini(task_ids=[iid]).load(iid), sandboxes, tmp_path)
    assert any(s != "PASSED" for s in empty.tests.values())


@pytest.mark.docker
def test_gymnasium_episode_on_swe_mini() -> None:
    """`gymnasium.make("ale/SWEMini-v0")`: reset, explore, apply the gold patch, submit: reward 1."""
    import gymnasium

    import envs  # noqa: F401  (registers the ids)

    iid = oldest_base_per_repo()[0]
    row = BY_ID[iid]
    env = gymnasium.make("ale/SWEMini-v0", task_ids=[iid], backend="docker", action_format="json")
    try:
        obs, info = env.reset(seed=0, options={"task_id": iid})
        assert (
            obs == row["problem_statement"]
            and info["task_id"] == iid
            and info["workdir"] == "/testbed"
        )

        def bash(command: str) -> tuple[str, float, bool, dict[str, Any]]:
            action = (
                "```json\n"
                + json.dumps({"name": "bash", "arguments": {"command": command}})
                + "\n```"
            )
            obs, reward, terminated, truncated, info = env.step(action)
            assert not truncated and not info["infra_error"] and info["tool"] == "bash", obs
            return obs, float(reward), terminated, info

        obs, reward, terminated, _ = bash("git log --all --format=%H")
        assert row["base_commit"] in obs and reward == 0.0 and not terminated
        names = sorted({t.split("::")[1].split("[")[0] for t in json.loads(row["FAIL_TO_PASS"])})
        obs, *_ = bash(
            f"grep -rlF -e {' -e '.join(names)} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo END"
        )
        assert obs.split() == ["END"], f"the new tests {names} are readable in the sandbox: {obs}"
        obs, _, _, info = bash(
            f"git apply - <<'ALE_PATCH'\n{row['patch']}ALE_PATCH\ngit diff --stat"
        )
        assert info["exit_code"] == 0 and "changed" in obs
        obs, reward, terminated, _, info = env.step(
            '```json\n{"name": "submit", "arguments": {}}\n```'
        )
        assert terminated and reward == 1.0 and info["grade"]["resolved"], info["grade"]
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.parametrize("iid", IDS)
def test_oracle_stable_three_of_three(iid: str, sandboxes: list[Sandbox]) -> None:
    """The gold patch resolves the instance in 3 fresh sandboxes out of 3."""
    task: SWEBenchTask = swe_mini(task_ids=[iid]).load(iid)
    grades: list[Grade] = []
    for _ in range(3):
        sb = started(task, sandboxes)
        task.apply_oracle(sb)
        grades.append(task.grade(sb))
        sandboxes.remove(sb)
        sb.close()
    assert [(g.reward, g.error) for g in grades] == [(1.0, None)] * 3, [
        g.log[-2000:] for g in grades
    ]
