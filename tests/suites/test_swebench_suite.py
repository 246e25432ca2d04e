"""The SWE-bench suite: loading, image resolution, sanitized /testbed, official grading, report.

Unit tests use a tiny instance built here (a git repo with a bug, its fix, and history after the
fix). Docker tests (`-m docker`) run it and the shipped swe-mini instances in real sandboxes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT, TEST_EXIT_CODE
from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY
from swebench.image_builder.image_spec import ImageSpec
from swebench.task.checks import expected_image

from envs.core.errors import TaskError
from envs.core.task import Grade, Task, TaskSuite
from envs.rock import DEFAULT_IMAGE, Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox
from envs.rock.image_build import IMAGE_ENV
from envs.suites.swebench import (
    SWEBenchSuite,
    SWEBenchTask,
    image_choice,
    official_image_names,
    plan_image,
    register_local_repos,
    swe_mini,
    write_run_report,
)
from envs.suites.swebench import official_eval as grading
from envs.suites.swebench.grader import base_accepts_test_patch
from envs.suites.swebench.image_choice import CONDA_PATH
from envs.suites.swebench.report import load_run_report
from envs.suites.swebench.suite import SWE_MINI_DATA
from tests.conftest import backend_params
from tests.suites.swebench_checks import (
    assert_no_future,
    check_oracle,
    found_in_sandbox,
    sh,
    started,
)
from tests.suites.swebench_checks import (
    git_out as _git,
)

REPO = "ale-test/tinycalc"
SECRET = "ALE_SECRET_TEST_STRING_5d1c9e"  # only in the test patch
FIX_LINE = "return a - b  # ALE_FIX_8e2b41"  # only in the gold patch
SPECS = {REPO: {"1.0": {"test_cmd": "python3 -m pytest -rA -p no:cacheprovider"}}}
TIMEOUT_SPECS = {REPO: {"1.0": {"test_cmd": "sleep 30; python3 -m pytest -rA"}}}


# -- a tiny instance ----------------------------------------------------------------------------
def make_tiny(root: Path) -> tuple[dict[str, Any], Path]:
    """A repo whose `sub` is wrong at base; the fix, a later commit, a tag, a branch, a stash and
    a note all live after base in the bundle. Returns (instance, repos_dir)."""
    repo = root / "src"
    (repo / "tests").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n"
    )
    (repo / "tests/test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (repo / "tests/conftest.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text(
        f"def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    {FIX_LINE}\n"
    )
    (repo / "tests/test_calc.py").write_text(
        "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        f"def test_sub():\n    assert sub(5, 3) == 2, '{SECRET}'\n"
    )
    (repo / "tests/test_new.py").write_text(
        f"from calc import sub\n\n\ndef test_new():\n    assert sub(1, 1) == 0, '{SECRET}'\n"
    )
    _git(repo, "add", "-A")
    patch = _git(repo, "diff", "--cached", "--", "calc.py")
    test_patch = _git(repo, "diff", "--cached", "--", "tests")
    _git(repo, "commit", "-q", "-m", "fix sub")
    _git(repo, "tag", "v1.0-fixed")
    _git(repo, "notes", "add", "-m", f"note {SECRET}")
    _git(repo, "branch", "fix-branch")
    (repo / "later.txt").write_text(f"later {SECRET}\n")
    _git(repo, "add", "later.txt")
    _git(repo, "commit", "-q", "-m", "later")
    (repo / "calc.py").write_text("# stashed\n")
    _git(repo, "stash", "-q")
    repos = root / "repos"
    repos.mkdir()
    _git(repo, "bundle", "create", "-q", str(repos / "tinycalc.bundle"), "--all")
    instance = {
        "instance_id": "ale-test__tinycalc-1",
        "repo": REPO,
        "base_commit": base,
        "patch": patch,
        "test_patch": test_patch,
        "problem_statement": "sub(5, 3) returns 8.",
        "hints_text": "look at calc.py",
        "created_at": "2024-01-01T00:00:00Z",
        "version": "1.0",
        "FAIL_TO_PASS": json.dumps(["tests/test_calc.py::test_sub", "tests/test_new.py::test_new"]),
        "PASS_TO_PASS": json.dumps(["tests/test_calc.py::test_add"]),
        "environment_setup_commit": base,
    }
    return instance, repos


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return make_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture()
def tiny_jsonl(tiny: tuple[dict[str, Any], Path], tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text(json.dumps(tiny[0]) + "\n")
    return path


def tiny_suite(tiny: tuple[dict[str, Any], Path], specs: Any = None, **kw: Any) -> SWEBenchSuite:
    return SWEBenchSuite([tiny[0]], repos_dir=tiny[1], specs=specs or SPECS, **kw)


# -- loading ------------------------------------------------------------------------------------
def test_load_jsonl(tiny: tuple[dict[str, Any], Path], tiny_jsonl: Path) -> None:
    suite = SWEBenchSuite(tiny_jsonl, repos_dir=tiny[1], specs=SPECS)
    assert isinstance(suite, TaskSuite)
    assert suite.name == "tiny" and suite.task_ids() == ["ale-test__tinycalc-1"]
    task = suite.load("ale-test__tinycalc-1")
    assert isinstance(task, Task) and task is suite.load("ale-test__tinycalc-1")
    assert task.metadata["FAIL_TO_PASS"] == [
        "tests/test_calc.py::test_sub",
        "tests/test_new.py::test_new",
    ]
    assert task.metadata["PASS_TO_PASS"] == ["tests/test_calc.py::test_add"]
    assert task.metadata["repo"] == REPO and task.metadata["version"] == "1.0"
    assert task.metadata["base_commit"] == tiny[0]["base_commit"]
    assert task.workdir == "/testbed"
    assert task.instruction == "sub(5, 3) returns 8."
    assert "look at calc.py" in tiny_suite(tiny, include_hints=True).load(task.id).instruction


def test_load_json_list_and_mapping(tiny: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    as_list, as_map = tmp_path / "a.json", tmp_path / "b.json"
    as_list.write_text(json.dumps([tiny[0]], indent=2))
    rest = {k: v for k, v in tiny[0].items() if k != "instance_id"}
    as_map.write_text(json.dumps({tiny[0]["instance_id"]: rest}))
    for path in (as_list, as_map):
        assert SWEBenchSuite(path, specs=SPECS).task_ids() == [tiny[0]["instance_id"]]


def test_load_parquet_from_jsonl(tiny_jsonl: Path, tmp_path: Path) -> None:
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    path = tmp_path / "tiny.parquet"
    pq.write_table(pajson.read_json(tiny_jsonl), path)
    suite = SWEBenchSuite(path, specs=SPECS)
    instance = suite.instances["ale-test__tinycalc-1"]
    assert instance["PASS_TO_PASS"] == ["tests/test_calc.py::test_add"]
    folder = tmp_path / "ds"
    folder.mkdir()
    pq.write_table(pajson.read_json(tiny_jsonl), folder / "dev.parquet")
    assert SWEBenchSuite(folder, split="dev", specs=SPECS).task_ids() == ["ale-test__tinycalc-1"]


def test_load_datasets_json(tiny_jsonl: Path) -> None:
    import datasets

    ds = datasets.load_dataset("json", data_files=str(tiny_jsonl), split="train")
    suite = SWEBenchSuite(ds, specs=SPECS)
    assert suite.task_ids() == ["ale-test__tinycalc-1"]
    assert (
        suite.instances["ale-test__tinycalc-1"]["FAIL_TO_PASS"][0] == "tests/test_calc.py::test_sub"
    )
    splits = datasets.load_dataset("json", data_files={"test": str(tiny_jsonl)})  # a DatasetDict
    assert SWEBenchSuite(splits, specs=SPECS).task_ids() == ["ale-test__tinycalc-1"]


def test_missing_dataset_offline_says_how_to_give_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    import huggingface_hub

    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(TaskError, match=r"ale-nonexistent/no-such-set.*offline.*Provide a file"):
        SWEBenchSuite("ale-nonexistent/no-such-set")


def _broken(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_malformed_files_name_file_line_and_key(
    tiny: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    good = json.dumps(tiny[0])
    no_patch = json.dumps(
        {k: v for k, v in tiny[0].items() if k != "test_patch"} | {"instance_id": "x__y-2"}
    )
    path = _broken(tmp_path, "a.jsonl", f"{good}\n{no_patch}\n")
    with pytest.raises(TaskError, match=r"a\.jsonl line 2: instance 'x__y-2' has no 'test_patch'"):
        SWEBenchSuite(path)
    path = _broken(tmp_path, "b.jsonl", f"{good}\n\n{{not json\n")
    with pytest.raises(TaskError, match=r"b\.jsonl line 3: invalid JSON"):
        SWEBenchSuite(path)
    path = _broken(tmp_path, "c.json", json.dumps([tiny[0], json.loads(no_patch)], indent=2))
    with pytest.raises(
        TaskError, match=r"c\.json line \d+ \(entry 1\): instance 'x__y-2' has no 'test_patch'"
    ):
        SWEBenchSuite(path)
    path = _broken(tmp_path, "d.jsonl", json.dumps(tiny[0] | {"FAIL_TO_PASS": "[oops"}) + "\n")
    with pytest.raises(TaskError, match=r"d\.jsonl line 1: FAIL_TO_PASS is not a JSON list"):
        SWEBenchSuite(path)
    path = _broken(tmp_path, "e.jsonl", f"{good}\n{good}\n")
    with pytest.raises(TaskError, match="appears twice"):
        SWEBenchSuite(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.Table.from_pylist([{k: v for k, v in tiny[0].items() if k != "patch"}]),
        tmp_path / "f.parquet",
    )
    with pytest.raises(TaskError, match=r"f\.parquet row 0: .* has no 'patch'"):
        SWEBenchSuite(tmp_path / "f.parquet")
    with pytest.raises(TaskError, match="no such SWE-bench file"):
        SWEBenchSuite(tmp_path / "missing.jsonl")


def test_unknown_ids_and_missing_specs(
    tiny: tuple[dict[str, Any], Path], tiny_jsonl: Path, tmp_path: Path
) -> None:
    with pytest.raises(TaskError, match="Did you mean 'ale-test__tinycalc-1'"):
        SWEBenchSuite(tiny_jsonl, task_ids=["ale-test__tinycalc-2"])
    suite = SWEBenchSuite(tiny_jsonl)
    with pytest.raises(TaskError, match="Did you mean"):
        suite.load("ale-test__tinycalc")
    with pytest.raises(TaskError, match="no spec for ale-test/tinycalc version '1.0'"):
        suite.load("ale-test__tinycalc-1")
    with pytest.raises(TaskError, match="has no 'test_cmd'"):
        SWEBenchSuite(tiny_jsonl, specs={REPO: {"1.0": {"install": "true"}}})
    bad = _broken(tmp_path, "specs.json", "{\n  oops\n}")
    with pytest.raises(TaskError, match=r"specs\.json line 2: invalid JSON"):
        SWEBenchSuite(tiny_jsonl, specs=bad)


def test_specs_and_repos_beside_the_dataset_or_given(
    tiny: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    """specs.json and repos/ beside a dataset file count for every caller (suite, CLI,
    gymnasium.make); --specs / --repos name others; a missing spec names the ways out."""
    import gymnasium

    import envs  # noqa: F401  (registers the ids)
    from bench.cli.run_cmds import resolve_bench_suite, swebench_options

    inst, repos = tiny
    folder, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copytree(repos, elsewhere / "repos")
    (elsewhere / "specs.json").write_text(json.dumps(SPECS))
    data = folder / "tiny.jsonl"
    data.write_text(json.dumps(inst) + "\n")
    bare = SWEBenchSuite(data)
    with pytest.raises(TaskError, match=r"no spec for .*--specs FILE, specs\.json beside"):
        bare.load(inst["instance_id"])
    opts = swebench_options(False, elsewhere / "specs.json", elsewhere / "repos", None)
    given = resolve_bench_suite(str(data), swebench_options=opts)
    task = given.load(inst["instance_id"])
    assert task.spec == SPECS[REPO]["1.0"] and task.image_choice("local").bundle is not None
    shutil.copytree(elsewhere, folder, dirs_exist_ok=True)  # now beside the file
    env = gymnasium.make("ale/SWEBench-v0", dataset=str(data))
    try:
        suite = env.unwrapped.suite
        assert suite.load(inst["instance_id"]).spec == SPECS[REPO]["1.0"]
        assert suite.repos_dir == folder / "repos"
    finally:
        env.close()
    assert resolve_bench_suite(str(data)).load(inst["instance_id"]).spec == SPECS[REPO]["1.0"]
    with pytest.raises(Exception, match="only for SWE-bench suites"):
        resolve_bench_suite("tb-mini", swebench_options=swebench_options(True, None, None, None))


# -- images -------------------------------------------------------------------------------------
def test_official_image_names_are_swebench_names() -> None:
    iid = "Django__django-11099"
    names = official_image_names({"instance_id": iid})
    assert (
        names[0]
        == expected_image(iid)
        == "swebench/sweb.eval.x86_64.django_1776_django-11099:latest"
    )
    assert names[1] == "sweb.eval.x86_64.django_1776_django-11099:latest"
    assert names[2] == ImageSpec(instance_id=iid, dockerfile="-", namespace=None).name
    assert names[2] == "sweb.eval.x86_64.django__django-11099:latest"  # both spellings
    assert official_image_names({"instance_id": iid, "image": "my/img:1"})[0] == "my/img:1"
    mirror = official_image_names({"instance_id": iid}, namespace="127.0.0.1:5000/swebench")
    assert mirror[0] == "127.0.0.1:5000/swebench/sweb.eval.x86_64.django_1776_django-11099:latest"
    assert mirror[1:] == names


def test_image_resolution_order(tiny: tuple[dict[str, Any], Path]) -> None:
    """No official image on the engine: pull only when asked, else build or run on a base;
    a Python no Debian release ships is refused in one line naming both ways out."""
    inst, repos = tiny
    inst = inst | {"instance_id": f"ale-test__nowhere-{os.getpid()}"}
    spec = SPECS[REPO]["1.0"]
    choice = plan_image(inst, spec, repos, "docker")
    assert (choice.image, choice.how, choice.bundle) == (
        DEFAULT_IMAGE,
        "base",
        repos / "tinycalc.bundle",
    )
    pulled = plan_image(inst, spec, repos, "docker", pull=True)
    assert pulled.how == "to-pull" and pulled.image == official_image_names(inst)[0]
    built = plan_image(inst, spec | {"python": "3.9", "pip_packages": ["pytest"]}, repos, "docker")
    assert (built.image, built.how, built.builder) == ("ale-base:bullseye", "to-build", "ale")
    assert plan_image(inst, spec | {"python": "3.13"}, repos, "local").image == "ale-base:trixie"
    with pytest.raises(TaskError) as err:
        plan_image(inst, spec | {"python": "3.6", "install": "pip install -e ."}, repos, "docker")
    line = str(err.value)
    assert "\n" not in line and "Python 3.6" in line and "--pull" in line and "local image" in line
    with pytest.raises(TaskError, match="conda environment.yml"):
        plan_image(inst, spec | {"packages": "environment.yml"}, repos, "docker")
    with pytest.raises(TaskError, match=r"no image for x__y-1.*--pull.*--repos DIR"):
        plan_image(inst | {"instance_id": "x__y-1", "repo": "x/y"}, spec, repos, "local")
    task = SWEBenchTask(inst, spec, repos)
    assert task.sandbox_spec().image == DEFAULT_IMAGE and task.sandbox_spec().workdir == "/testbed"
    assert task.metadata["image_source"] == f"{DEFAULT_IMAGE} (Debian base + tinycalc.bundle)"


# -- grading without a sandbox ------------------------------------------------------------------
def _log(lines: list[str], exit_code: int = 0) -> str:
    body = "\n".join(lines)
    return (
        f">>>>> Applied Patch\n+ : '{START_TEST_OUTPUT}'\n{body}\n+ : '{END_TEST_OUTPUT}'\n"
        f"{TEST_EXIT_CODE}: {exit_code}\n"
    )


def test_eval_script_and_test_spec(tiny: tuple[dict[str, Any], Path]) -> None:
    inst = tiny_suite(tiny).instances["ale-test__tinycalc-1"]
    spec = grading.build_test_spec(inst, DEFAULT_IMAGE, SPECS[REPO]["1.0"], "/tmp/t.patch")
    script = spec.eval_script
    assert script.startswith("#!/bin/bash\nset -uxo pipefail\n")
    assert f"git checkout {inst['base_commit']} tests/test_calc.py" in script
    assert "rm -f tests/test_new.py" in script and "git apply -v /tmp/t.patch" in script
    assert (
        "python3 -m pytest -rA -p no:cacheprovider tests/test_calc.py tests/test_new.py" in script
    )
    assert (
        script.index(START_TEST_OUTPUT)
        < script.index("SWEBENCH_TEST_EXIT_CODE=$?")
        < script.index(END_TEST_OUTPUT)
    )
    assert (spec.log_parser, spec.eval_type) == ("parse_log_pytest", "pass_and_fail")
    listed = grading.make_eval_script(
        inst, {"test_cmd": ["export X=1", "pytest -rA"]}, "/tmp/t.patch"
    )
    assert "export X=1\npytest -rA tests/test_calc.py tests/test_new.py\n" in listed
    django = {
        "repo": "django/django",
        "test_patch": "diff --git a/tests/auth/test_x.py b/tests/auth/test_x.py\n"
        "diff --git a/docs/a.txt b/docs/a.txt\n",
    }
    assert grading.test_directives(django) == ["auth.test_x"]
    assert grading.parser_name({"repo": "sympy/sympy"}, None) == "parse_log_sympy"


def test_register_local_repos() -> None:
    register_local_repos({"ale-test/registered": {"0.1": {"test_cmd": "pytest"}}})
    assert MAP_REPO_TO_PARSER_PY["ale-test/registered"].__name__ == "parse_log_pytest"
    assert MAP_REPO_TO_PARSER_PY["django/django"].__name__ == "parse_log_django"  # untouched
    with pytest.raises(TaskError, match="log parser 'parse_log_nope'"):
        register_local_repos(
            {"ale-test/other": {"0.1": {"test_cmd": "x", "log_parser": "parse_log_nope"}}}
        )


def test_official_verdicts_on_synthetic_logs(tiny: tuple[dict[str, Any], Path]) -> None:
    inst = tiny_suite(tiny).instances["ale-test__tinycalc-1"]
    spec = grading.build_test_spec(inst, DEFAULT_IMAGE, SPECS[REPO]["1.0"], "/tmp/t.patch")
    passed = [f"PASSED {t}" for t in [*inst["FAIL_TO_PASS"], *inst["PASS_TO_PASS"]]]
    entry, status = grading.evaluate_log(spec, _log(passed), "diff")
    assert entry["resolved"] and entry["patch_successfully_applied"]
    assert status["tests/test_calc.py::test_sub"] == "PASSED"
    entry, _ = grading.evaluate_log(
        spec, _log([*passed[1:], "FAILED tests/test_calc.py::test_sub - x"], 1), "d"
    )
    assert not entry["resolved"] and entry["tests_status"]["FAIL_TO_PASS"]["failure"] == [
        "tests/test_calc.py::test_sub"
    ]
    entry, _ = grading.evaluate_log(
        spec, _log(passed, exit_code=2), "d"
    )  # PASSED lines, failing run
    assert not entry["resolved"] and not entry["patch_successfully_applied"]
    entry, _ = grading.evaluate_log(spec, "no markers at all", None)
    assert entry["patch_is_None"] and not entry["resolved"]


def test_run_report_uses_official_fields(tmp_path: Path) -> None:
    def g(resolved: bool, patch: str | None, error: str | None = None) -> Grade:
        report = {
            "model_patch": patch,
            "patch_is_None": patch is None,
            "patch_exists": patch is not None,
            "patch_successfully_applied": True,
            "resolved": resolved,
            "tests_status": {},
        }
        return Grade(
            reward=float(resolved), resolved=resolved, error=error, report=report, log="log"
        )

    grades = {
        "a__a-1": g(True, "diff a"),
        "b__b-1": g(False, "diff b"),
        "c__c-1": g(False, ""),
        "d__d-1": g(False, "diff d", error="the tests timed out"),
    }
    dataset = [{"instance_id": i} for i in [*grades, "e__e-1"]]
    path = write_run_report(grades, dataset, "run1", tmp_path, model_name="org/model")
    assert path == tmp_path.resolve() / "org__model.run1.json"
    rep = load_run_report(path)
    assert (rep["total_instances"], rep["submitted_instances"], rep["completed_instances"]) == (
        5,
        4,
        2,
    )
    assert (rep["resolved_instances"], rep["unresolved_instances"]) == (1, 1)
    assert (rep["empty_patch_instances"], rep["error_instances"]) == (1, 1)
    assert rep["resolved_ids"] == ["a__a-1"] and rep["unresolved_ids"] == ["b__b-1"]
    assert rep["empty_patch_ids"] == ["c__c-1"] and rep["error_ids"] == ["d__d-1"]
    assert rep["incomplete_ids"] == ["e__e-1"]
    one = tmp_path / "logs/run_evaluation/run1/org__model/a__a-1"
    assert json.loads((one / "report.json").read_text())["a__a-1"]["resolved"] is True
    assert (one / "patch.diff").read_text() == "diff a"


# -- in sandboxes -------------------------------------------------------------------------------
SWE_MINI_IDS = swe_mini().task_ids() if (SWE_MINI_DATA / "swe-mini.jsonl").is_file() else []
needs_swe_mini = pytest.mark.skipif(not SWE_MINI_IDS, reason=f"no swe-mini data at {SWE_MINI_DATA}")


@pytest.mark.docker
def test_no_reward_hacking_tiny(
    tiny: tuple[dict[str, Any], Path], sandboxes: list[Sandbox], tmp_path: Path
) -> None:
    task = tiny_suite(tiny).load("ale-test__tinycalc-1")
    sb = started(task, sandboxes, prepare=False)
    baseline = found_in_sandbox(sb, [SECRET, FIX_LINE])
    src = tiny[1].parent / "src"  # the bundle does hold the future: the fix, a tag, a stash, ...
    assert len(_git(src, "rev-list", "--all").split()) > len(
        _git(src, "rev-list", task.base_commit).split()
    )
    task.prepare(sb)
    assert sh(sb, "pwd; git status --short; git log --oneline | wc -l").split() == ["/testbed", "1"]
    assert_no_future(task, sb, tmp_path, baseline)
    assert found_in_sandbox(sb, [SECRET, FIX_LINE]) == set()
    hits = sh(
        sb, "cd /testbed && git cat-file --batch-all-objects --batch | grep -c ALE_ || true"
    ).strip()
    assert hits == "0"


@pytest.mark.parametrize("backend", backend_params())
def test_oracle_and_parity_tiny(
    backend: str, tiny: tuple[dict[str, Any], Path], sandboxes: list[Sandbox], tmp_path: Path
) -> None:
    task = tiny_suite(tiny).load("ale-test__tinycalc-1")
    empty, gold = check_oracle(task, sandboxes, tmp_path, backend)
    assert START_TEST_OUTPUT in gold.log and ">>>>> Applied Patch" in gold.log
    assert gold.tests == {
        "tests/test_calc.py::test_add": "PASSED",
        "tests/test_calc.py::test_sub": "PASSED",
        "tests/test_new.py::test_new": "PASSED",
    }
    assert empty.tests["tests/test_calc.py::test_sub"] == "FAILED"
    assert gold.report["model_patch"] == task.instance["patch"]
    assert {
        "patch_is_None",
        "patch_exists",
        "patch_successfully_applied",
        "resolved",
        "tests_status",
    } <= set(gold.report)
    path = write_run_report({task.id: gold}, [task.instance], "tiny", tmp_path)
    assert load_run_report(path)["resolved_ids"] == [task.id]


@pytest.mark.docker
def test_grading_sees_the_tree_not_the_agent_shell(
    tiny: tuple[dict[str, Any], Path], sandboxes: list[Sandbox]
) -> None:
    task = tiny_suite(tiny).load("ale-test__tinycalc-1")
    sb = started(task, sandboxes)
    # an agent that fakes pytest on its PYTHONPATH: the grader's fresh shell does not inherit it
    sb.write("/tmp/hack/pytest/__init__.py", b"")
    sb.write("/tmp/hack/pytest/__main__.py", b"print('PASSED tests/test_calc.py::test_sub')\n")
    sb.run("export PYTHONPATH=/tmp/hack", timeout=30)
    assert "PASSED tests/test_calc.py::test_sub" in sb.run("python3 -m pytest", timeout=30).output
    assert task.grade(sb).reward == 0.0
    # a fix the agent committed is still its patch
    sb.run(
        "cd /testbed && sed -i 's/return a + b$/return a - b/' calc.py && sed -i '1,2s/return a - b/return a + b/' calc.py"
        " && git -c user.name=a -c user.email=a@b commit -qam fix",
        timeout=30,
    )
    grade = task.grade(sb)
    assert grade.reward == 1.0, grade.log[-2000:]
    assert "-    return a + b\n+    return a - b" in grade.report["model_patch"]


@pytest.mark.docker
def test_grading_failures_are_told_apart(
    tiny: tuple[dict[str, Any], Path], sandboxes: list[Sandbox]
) -> None:
    inst = tiny[0]
    broken = inst | {
        "test_patch": inst["test_patch"].replace(" def test_add():", " def test_zzz():")
    }
    task = SWEBenchSuite([broken], repos_dir=tiny[1], specs=SPECS).load(inst["instance_id"])
    grade = task.grade(started(task, sandboxes))
    assert grade.error and "test patch does not apply" in grade.error and grade.reward == 0.0
    assert grade.task_failed and "not even at the base commit" in grade.error  # the task is broken
    # whether the test patch applies is judged at the base commit, not on what the agent left
    task = tiny_suite(tiny).load(inst["instance_id"])
    sb = started(task, sandboxes)
    assert sb.run("cd /testbed && find . -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +").ok
    sb.run("mkdir -p /tmp/g")
    sb.write("/tmp/g/test.patch", inst["test_patch"].encode())
    assert base_accepts_test_patch(task, sb, "/tmp/g")
    sb.write("/tmp/g/test.patch", broken["test_patch"].encode())
    assert not base_accepts_test_patch(task, sb, "/tmp/g")
    task = SWEBenchSuite([inst], repos_dir=tiny[1], specs=TIMEOUT_SPECS, test_timeout_s=2).load(
        inst["instance_id"]
    )
    grade = task.grade(started(task, sandboxes))  # a timeout is the patch's verdict, not infra
    assert grade.error is None and grade.reward == 0.0 and grade.report["timed_out"]
    assert grade.report["test_timeout_s"] == 2 and "Timeout error: 2 seconds exceeded" in grade.log
    task = tiny_suite(tiny).load(inst["instance_id"])
    sb = started(task, sandboxes)
    sb.close()
    grade = task.grade(sb)
    assert grade.error and "failed" in grade.error and not grade.resolved
    assert grade.infra_failed and not grade.task_failed  # the sandbox died: retried
    sb = started(task, sandboxes)  # an agent that deletes .git failed its episode; not infra
    sb.run("rm -rf /testbed/.git", timeout=30)
    grade = task.grade(sb)
    assert grade.error is None and grade.reward == 0.0 and grade.report["patch_is_None"]


OFFICIAL_DOCKERFILE = """FROM ale-base:bookworm
COPY src /testbed
RUN cd /testbed && git checkout -q -f {base} && git remote add origin https://example.invalid/t.git \\
 && git update-ref refs/remotes/origin/main {later} && git config --global --add safe.directory /testbed
WORKDIR /testbed
"""


@pytest.fixture()
def official_tiny(
    tiny: tuple[dict[str, Any], Path], tmp_path: Path
) -> Iterator[tuple[SWEBenchTask, Path]]:
    """The tiny repo in a local image under an official SWE-bench name: /testbed at base with
    the whole future in its .git (origin, tags, stash, notes), like the published images."""
    from envs.rock.docker_backend import client
    from envs.rock.image_build import build_task_image

    inst = tiny[0] | {"instance_id": f"ale-test__tinycalc-official-{os.getpid()}"}
    src = tiny[1].parent / "src"
    context = tmp_path / "ctx"
    shutil.copytree(src, context / "src", symlinks=True)
    later = _git(src, "rev-parse", "main").strip()
    (context / "Dockerfile").write_text(
        OFFICIAL_DOCKERFILE.format(base=inst["base_commit"], later=later)
    )
    tag = official_image_names(inst)[-1]  # the name swebench gives a locally built image
    build_task_image(context, tag)
    specs = {REPO: {"1.0": SPECS[REPO]["1.0"] | {"install": "touch /tmp/ale-installed"}}}
    task = SWEBenchSuite([inst], specs=specs).load(inst["instance_id"])
    try:
        yield task, src
    finally:
        client().images.remove(tag, force=True)


@pytest.mark.docker
def test_official_image_is_sanitized_once_and_graded(
    official_tiny: tuple[SWEBenchTask, Path], sandboxes: list[Sandbox], tmp_path: Path
) -> None:
    task, src = official_tiny
    task.ensure_image("docker")
    choice = task.image_choice()
    assert (choice.how, choice.image) == ("local", official_image_names(task.instance)[-1])
    source = create_sandbox(SandboxSpec(image=choice.image, workdir="/testbed"), "docker")
    sandboxes.append(source)  # the image itself holds the future: tags, origin, stash, notes
    assert _git(src, "rev-parse", "v1.0-fixed").strip() in sh(
        source, "cd /testbed && git log --all --format=%H"
    )
    sb = started(task, sandboxes)
    derived = task.metadata["image"]
    assert derived.startswith("ale-derived/") and sb.spec.image == derived
    assert_no_future(task, sb, tmp_path, found_in_sandbox(source, [SECRET, FIX_LINE]), source=src)
    assert found_in_sandbox(sb, [SECRET, FIX_LINE]) == set()
    assert "ale-installed" not in sh(sb, "ls /tmp")  # an image's environment is complete as is
    assert sh(sb, "echo $PATH").strip() == IMAGE_ENV["PATH"]  # no conda here: its own PATH
    again = SWEBenchSuite([task.instance], specs={REPO: {"1.0": task.spec}}).load(task.id)
    again.ensure_image("docker")  # a new task object (another process) reuses the image
    assert again.task_image is not None and not again.task_image.derived.built
    assert again.metadata["image"] == derived
    assert task.grade(sb).reward == 0.0
    task.apply_oracle(sb)
    grade = task.grade(sb)
    assert grade.reward == 1.0 and grade.error is None, grade.log[-2000:]
    assert (
        "conda activate" not in grade.log and grade.report["model_patch"] == task.instance["patch"]
    )


@pytest.mark.docker
def test_official_conda_layout_gets_its_path(
    official_tiny: tuple[SWEBenchTask, Path], sandboxes: list[Sandbox], tmp_path: Path
) -> None:
    """An image with the official conda layout (`/opt/miniconda3/envs/testbed`, not on the
    image's PATH) runs with the conda PATH and the eval script activates the env."""
    from envs.rock.docker_backend import client
    from envs.rock.image_build import build_task_image

    task, _ = official_tiny
    inst = task.instance | {"instance_id": f"ale-test__tinycalc-conda-{os.getpid()}"}
    source = official_image_names(task.instance)[-1]
    (tmp_path / "Dockerfile").write_text(
        f"FROM {source}\n"
        "RUN mkdir -p /opt/miniconda3/envs/testbed/bin "
        "&& ln -s /usr/bin/python3 /opt/miniconda3/envs/testbed/bin/python\n"
    )
    tag = official_image_names(inst)[1]  # the published name without namespace
    build_task_image(tmp_path, tag, from_map={source: source})
    try:
        conda = SWEBenchSuite([inst], specs={REPO: {"1.0": task.spec}}).load(inst["instance_id"])
        sb = started(conda, sandboxes)
        assert conda.conda and sb.spec.env["PATH"] == CONDA_PATH
        assert sh(sb, "echo $PATH").strip() == CONDA_PATH
        conda.apply_oracle(sb)
        grade = conda.grade(sb)
        assert grade.reward == 1.0, grade.log[-2000:]
        assert "conda activate testbed" in grade.log
    finally:
        for sb in sandboxes:
            sb.close()
        client().images.remove(tag, force=True)


# -- swe-mini -----------------------------------------------------------------------------------
def test_swe_mini_layout(tiny: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    """`swe_mini(data_dir=...)` reads swe-mini.jsonl, specs.json and repos/<name>.bundle."""
    shutil.copytree(tiny[1], tmp_path / "repos")
    (tmp_path / "swe-mini.jsonl").write_text(json.dumps(tiny[0]) + "\n")
    (tmp_path / "specs.json").write_text(json.dumps(SPECS))
    suite = swe_mini(data_dir=tmp_path)
    assert suite.name == "swe-mini" and suite.task_ids() == ["ale-test__tinycalc-1"]
    task = suite.load("ale-test__tinycalc-1")
    assert (
        task.spec == SPECS[REPO]["1.0"]
        and task.image_choice("local").bundle == tmp_path / "repos/tinycalc.bundle"
    )
    with pytest.raises(TaskError, match="swe-mini data is missing"):
        swe_mini(data_dir=tmp_path / "nowhere")


@needs_swe_mini
def test_swe_mini_loads() -> None:
    suite = swe_mini()
    assert suite.name == "swe-mini" and len(suite) >= 1
    for tid in suite.task_ids():
        task = suite.load(tid)
        assert task.spec is not None and "test_cmd" in task.spec
        assert image_choice.find_bundle(task.instance, suite.repos_dir) is not None, tid
        assert task.metadata["FAIL_TO_PASS"], tid


@pytest.mark.slow
@pytest.mark.docker
def test_oracle_stable_three_runs(
    tiny: tuple[dict[str, Any], Path], sandboxes: list[Sandbox], tmp_path: Path
) -> None:
    tasks = [
        tiny_suite(tiny).load("ale-test__tinycalc-1")
    ]  # swe-mini: tests/suites/test_swe_mini_data.py
    for task in tasks:
        rewards = []
        for _ in range(3):
            sb = started(task, sandboxes)
            task.apply_oracle(sb)
            rewards.append(task.grade(sb).reward)
            sandboxes.remove(sb)
            sb.close()
        assert rewards == [1.0, 1.0, 1.0], task.id
