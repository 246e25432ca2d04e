"""Build the swe-mini data from the catalog: git bundles, the instances JSONL, specs and README.

For every repository: commit its history into a fresh repository (fixed names and dates, so
the SHAs never change), bundle it, and for every instance write the gold patch and the test
patch as `git diff` prints them. Then run each instance like the grader does (test patch, the
test files, the gold patch, the test files again) to check FAIL_TO_PASS and to collect
PASS_TO_PASS.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swebench.harness.log_parsers.python import parse_log_pytest

from envs.suites.swe_mini.build.gitutil import git, identity
from envs.suites.swe_mini.build.model import DIFFICULTIES, CatalogError, Change, Instance, RepoDef

HERE = Path(__file__).resolve().parent
TREES = HERE / "trees"
DATA = HERE.parent / "data"
JSONL_NAME = "swe-mini.jsonl"
SPECS_NAME = "specs.json"
README_NAME = "README.md"
SPEC: dict[str, Any] = {"python": "3.11", "install": "", "test_cmd": "pytest -rA"}
#: The keys of an instance, in the order of the official dataset.
KEYS: tuple[str, ...] = (
    "repo",
    "instance_id",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "hints_text",
    "created_at",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "environment_setup_commit",
)
TEST_DIR = "tests/"
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
PYTEST_TIMEOUT_S = 120


# ------------------------------------------------------------------------------ repository files
def tree_files(repo: RepoDef) -> dict[str, str]:
    """The repository's files at its last commit: {posix path: text}."""
    root = TREES / repo.name
    if not root.is_dir():
        raise CatalogError(f"{repo.name}: no tree at {root}")
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not IGNORED_PARTS & set(rel.parts) and path.suffix != ".pyc":
            files[rel.as_posix()] = path.read_text(encoding="utf-8")
    return files


def snapshots(repo: RepoDef) -> list[dict[str, str]]:
    """Every commit's files, oldest first, recovered from the tree by undoing later changes."""
    final = tree_files(repo)
    added_at: dict[str, int] = {}
    for i, commit in enumerate(repo.commits):
        for pattern in commit.add:
            matches = [p for p in final if fnmatch.fnmatchcase(p, pattern)]
            if not matches:
                raise CatalogError(f"{repo.name} {commit.key}: {pattern!r} matches no file")
            for path in matches:
                if path in added_at:
                    raise CatalogError(f"{repo.name} {commit.key}: {path} was already added")
                added_at[path] = i
    missing = sorted(set(final) - set(added_at))
    if missing:
        raise CatalogError(f"{repo.name}: no commit adds {', '.join(missing)}")
    states: list[dict[str, str]] = [{} for _ in repo.commits]
    current = dict(final)
    for i in reversed(range(len(repo.commits))):
        states[i] = {p: text for p, text in current.items() if added_at[p] <= i}
        for change in reversed(repo.commits[i].changes):
            if added_at.get(change.path, i) >= i:
                raise CatalogError(
                    f"{repo.name} {repo.commits[i].key}: changes {change.path}, "
                    "which did not exist before it"
                )
            current[change.path] = change.undo(current[change.path])
    return states


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Make the work tree of `root` hold exactly `files` (the .git folder is kept)."""
    for entry in root.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------------------- history
def commit_history(repo: RepoDef, root: Path) -> dict[str, str]:
    """Create the repository in the empty folder `root`; {commit key: SHA}."""
    git(root, "init", "-q")
    shas: dict[str, str] = {}
    for commit, files in zip(repo.commits, snapshots(repo), strict=True):
        write_tree(root, files)
        env = identity(commit.author or repo.maintainer, commit.date)
        git(root, "add", "-A")
        git(
            root,
            "commit",
            "-q",
            "--cleanup=verbatim",
            "-F",
            "-",
            env=env,
            stdin=commit.message.rstrip() + "\n",
        )
        shas[commit.key] = git(root, "rev-parse", "HEAD").strip()
        if commit.tag:
            git(root, "tag", commit.tag)
    return shas


def make_diff(root: Path, base: str, changes: Iterable[Change]) -> str:
    """`git diff` of `changes` made at commit `base`; leaves the work tree clean again."""
    git(root, "checkout", "-q", "--detach", base)
    try:
        for change in changes:
            path = root / change.path
            text = path.read_text(encoding="utf-8") if path.is_file() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(change.apply(text), encoding="utf-8", newline="\n")
        git(root, "add", "-A")
        return git(root, "diff", "--cached", "--no-ext-diff", "--no-color")
    finally:
        git(root, "reset", "-q", "--hard")
        git(root, "clean", "-fdxq")


def diff_paths(diff: str) -> list[str]:
    """The files a `git diff` touches (the b/ side), in order."""
    return re.findall(r"^diff --git a/.* b/(.*)$", diff, flags=re.MULTILINE)


# ------------------------------------------------------------------------------------ oracle runs
@dataclass
class Run:
    """One run of the test files: the log and swebench's reading of it."""

    log: str
    status: dict[str, str]


def run_tests(checkout: Path, test_files: Sequence[str], python: str = sys.executable) -> Run:
    """`pytest -rA <test files>` in `checkout` as the grader runs it: no plugins, no cwd on sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env.update(
        {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8"}
    )
    proc = subprocess.run(
        [python, "-P", "-m", "pytest", "-rA", "-p", "no:cacheprovider", *test_files],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=PYTEST_TIMEOUT_S,
    )
    log = proc.stdout + proc.stderr
    return Run(log, parse_log_pytest(log, None))  # type: ignore[arg-type]


def oracle_runs(
    bundle: Path, base: str, test_patch: str, patch: str, python: str = sys.executable
) -> tuple[Run, Run]:
    """(run with the test patch only, run with the test patch and the gold patch)."""
    with tempfile.TemporaryDirectory(prefix="swe-mini-oracle-") as tmp:
        checkout = Path(tmp) / "testbed"
        git(Path(tmp), "clone", "-q", "--no-checkout", str(bundle), str(checkout))
        git(checkout, "checkout", "-q", "--detach", base)
        files = diff_paths(test_patch)
        for name, text in (("test.patch", test_patch), ("gold.patch", patch)):
            (Path(tmp) / name).write_text(text, encoding="utf-8", newline="\n")
        git(checkout, "apply", str(Path(tmp) / "test.patch"))
        before = run_tests(checkout, files, python)
        git(checkout, "apply", str(Path(tmp) / "gold.patch"))
        after = run_tests(checkout, files, python)
    return before, after


def check_history(
    repo: RepoDef, bundle: Path, shas: dict[str, str], python: str = sys.executable
) -> None:
    """Every commit's whole test suite passes (the bugs are ones no existing test catches)."""
    with tempfile.TemporaryDirectory(prefix="swe-mini-history-") as tmp:
        checkout = Path(tmp) / "testbed"
        git(Path(tmp), "clone", "-q", "--no-checkout", str(bundle), str(checkout))
        for key, sha in shas.items():
            git(checkout, "checkout", "-q", "--detach", "--force", sha)
            run = run_tests(checkout, [], python)
            failed = {t: s for t, s in run.status.items() if s != "PASSED"}
            if failed or not run.status:
                raise CatalogError(
                    f"{repo.name} {key}: the test suite does not pass: {failed}\n{run.log}"
                )


def pass_to_pass(iid: str, fail_to_pass: Sequence[str], before: Run, after: Run) -> list[str]:
    """PASS_TO_PASS in run order, after checking the runs agree with FAIL_TO_PASS exactly."""
    problems = []
    for test in fail_to_pass:
        if before.status.get(test) == "PASSED":
            problems.append(f"{test} passes without the fix")
        if after.status.get(test) != "PASSED":
            problems.append(f"{test} is {after.status.get(test, 'missing')} with the fix")
    for test, status in after.status.items():
        if status != "PASSED" and test not in fail_to_pass:
            problems.append(f"{test} is {status} with the fix")
        if test not in fail_to_pass and before.status.get(test) != "PASSED":
            problems.append(
                f"{test} is {before.status.get(test, 'missing')} without the fix, "
                "but is not in FAIL_TO_PASS"
            )
    bad_ids = [t for t in after.status if not re.fullmatch(r"\S+\.py::\S+", t)]
    if bad_ids:
        problems.append(f"node ids the log parser cannot keep whole: {bad_ids}")
    if problems:
        raise CatalogError(
            f"{iid}:\n  " + "\n  ".join(problems) + f"\n--- log without the fix:\n{before.log}"
            f"\n--- log with the fix:\n{after.log}"
        )
    return [t for t in after.status if t not in fail_to_pass]


# ------------------------------------------------------------------------------------- instances
def check_instance(repo: RepoDef, instance: Instance) -> None:
    iid = repo.instance_id(instance)
    repo.commit(instance.base)
    if instance.difficulty not in DIFFICULTIES:
        raise CatalogError(
            f"{iid}: difficulty {instance.difficulty!r} is not one of {DIFFICULTIES}"
        )
    if not instance.fail_to_pass:
        raise CatalogError(f"{iid}: no FAIL_TO_PASS tests")
    for change in instance.fix:
        if change.path.startswith(TEST_DIR):
            raise CatalogError(f"{iid}: the fix changes the test file {change.path}")
    for change in instance.tests:
        if not change.path.startswith(TEST_DIR):
            raise CatalogError(f"{iid}: the test patch changes {change.path}, outside {TEST_DIR}")


def build_repo(
    repo: RepoDef, out: Path, python: str = sys.executable, log: Any = None
) -> list[dict[str, str]]:
    """Write `out/repos/<name>.bundle` and return the repository's instance rows."""
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"swe-mini-{repo.name}-") as tmp:
        root = Path(tmp) / repo.name
        root.mkdir()
        shas = commit_history(repo, root)
        bundle = out / "repos" / f"{repo.name}.bundle"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.unlink(missing_ok=True)
        git(root, "bundle", "create", "-q", str(bundle), "--all")
        check_history(repo, bundle, shas, python)
        for instance in repo.instances:
            check_instance(repo, instance)
            iid = repo.instance_id(instance)
            base = shas[instance.base]
            patch = make_diff(root, base, instance.fix)
            test_patch = make_diff(root, base, instance.tests)
            if not patch or not test_patch:
                raise CatalogError(f"{iid}: empty patch or test patch")
            before, after = oracle_runs(bundle, base, test_patch, patch, python)
            p2p = pass_to_pass(iid, instance.fail_to_pass, before, after)
            if log:
                log(f"{iid}: {len(instance.fail_to_pass)} FAIL_TO_PASS, {len(p2p)} PASS_TO_PASS")
            rows.append(
                {
                    "repo": repo.full_name,
                    "instance_id": iid,
                    "base_commit": base,
                    "patch": patch,
                    "test_patch": test_patch,
                    "problem_statement": instance.problem_statement.strip() + "\n",
                    "hints_text": instance.hints_text,
                    "created_at": instance.created_at,
                    "version": instance.version,
                    "FAIL_TO_PASS": json.dumps(list(instance.fail_to_pass)),
                    "PASS_TO_PASS": json.dumps(p2p),
                    "environment_setup_commit": base,
                }
            )
    return rows


def specs_for(repos: Iterable[RepoDef]) -> dict[str, dict[str, dict[str, Any]]]:
    """{repo: {version: spec}}, the shape of swebench's MAP_REPO_VERSION_TO_SPECS."""
    return {
        repo.full_name: {v: dict(SPEC) for v in sorted({i.version for i in repo.instances})}
        for repo in repos
    }


def readme(repos: Sequence[RepoDef]) -> str:
    """The data folder's README: one line per instance, and how to regenerate and check."""
    lines = [
        "# swe-mini data",
        "",
        "SWE-bench-format instances over small Python repositories written for ALE-Gym.",
        "Generated by `envs/suites/swe_mini/build` (the source of truth); do not edit by hand.",
        "",
        f"* `{JSONL_NAME}`: one instance per line, in the official schema (`FAIL_TO_PASS` and",
        "  `PASS_TO_PASS` are JSON strings of lists of pytest node ids).",
        f"* `{SPECS_NAME}`: `{{repo: {{version: spec}}}}` in the shape of swebench's",
        "  `MAP_REPO_VERSION_TO_SPECS` values. Nothing is installed: each repository's pytest",
        "  configuration puts its package on `sys.path`, and `pytest -rA <test files>` runs",
        "  with the base image's Debian pytest 7.2, offline, without plugins.",
        "* `repos/<name>.bundle`: each repository's whole history, tags included; some commits",
        "  come after some base commits (the sandbox prunes them: /testbed holds base_commit and",
        "  its ancestors only). No fix and no test of the test patches is in any bundle: the",
        "  bugs are still there at the newest commit.",
        "",
        "## Instances",
        "",
        "| instance | difficulty | bug |",
        "|---|---|---|",
    ]
    for repo in repos:
        for instance in repo.instances:
            lines.append(
                f"| {repo.instance_id(instance)} | {instance.difficulty} | {instance.summary} |"
            )
    lines += [
        "",
        "## Regenerating and checking",
        "",
        "    python -m envs.suites.swe_mini.build                 # rewrite this folder",
        "    python -m envs.suites.swe_mini.build --check         # rebuild elsewhere, compare",
        "    python -m envs.suites.swe_mini.build --python /usr/bin/python3   # Debian's pytest",
        "    python -m pytest tests/suites/test_swe_mini_data.py  # schema, leaks, oracle (1x)",
        "    python -m pytest tests/suites/test_swe_mini_data.py -m slow  # oracle 3x per instance",
        "",
        "The build commits every repository with fixed authors and dates, so the SHAs (and the",
        "bundles, byte for byte) are the same on every run; it runs each instance's test files",
        "before and after the gold patch to check FAIL_TO_PASS and to collect PASS_TO_PASS.",
        "",
    ]
    return "\n".join(lines)


def build(
    out: Path = DATA,
    repos: Sequence[RepoDef] | None = None,
    python: str = sys.executable,
    log: Any = None,
) -> list[dict[str, str]]:
    """Regenerate the data folder `out` (bundles, JSONL, specs, README); returns the rows."""
    from envs.suites.swe_mini.build.catalog import REPOS

    repos = list(REPOS if repos is None else repos)
    names = [r.name for r in repos]
    if len(set(names)) != len(names):
        raise CatalogError(f"repository names repeat: {names}")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for repo in repos:
        rows += build_repo(repo, out, python, log)
    for stale in (out / "repos").glob("*.bundle"):
        if stale.stem not in names:
            stale.unlink()
    with (out / JSONL_NAME).open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            assert tuple(row) == KEYS
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out / SPECS_NAME).write_text(
        json.dumps(specs_for(repos), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / README_NAME).write_text(readme(repos), encoding="utf-8")
    return rows


def data_files(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes} of the generated files in a data folder."""
    found = [
        folder / JSONL_NAME,
        folder / SPECS_NAME,
        folder / README_NAME,
        *sorted((folder / "repos").glob("*.bundle")),
    ]
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in found if p.is_file()}
