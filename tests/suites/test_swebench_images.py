"""SWE-bench images: pulled only when asked (from a registry this test starts on 127.0.0.1),
and built from the repo spec on the Debian base of its Python when none exists."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envs.core.errors import TaskError
from envs.rock import Sandbox
from envs.rock.derived import gc_derived
from envs.suites.swebench import SWEBenchSuite, official_image_names
from tests.conftest import REPO
from tests.suites.swebench_checks import git_out, sh, started
from tests.suites.test_swebench_suite import OFFICIAL_DOCKERFILE, SPECS, make_tiny

pytestmark = pytest.mark.docker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def registry(tmp_path: Path) -> Iterator[str]:
    """A throw-away registry (Debian's `docker-registry`) on 127.0.0.1; yields `host:port`."""
    exe = shutil.which("docker-registry")
    if exe is None:
        pytest.skip("docker-registry missing: `apt-get install docker-registry` (setup-machine.sh)")
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'store'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [exe, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("docker-registry did not answer on 127.0.0.1")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def official_context(root: Path) -> tuple[dict[str, Any], Path]:
    """The tiny instance and a build context of an official-style image of it: /testbed at
    base_commit with the future (tags, origin, stash, notes) in its .git."""
    inst, repos = make_tiny(root / "tiny")
    src = repos.parent / "src"
    context = root / "ctx"
    shutil.copytree(src, context / "src", symlinks=True)
    later = git_out(src, "rev-parse", "main").strip()
    (context / "Dockerfile").write_text(
        OFFICIAL_DOCKERFILE.format(base=inst["base_commit"], later=later)
    )
    return inst, context


def _push(context: Path, name: str) -> str:
    """Build `context` as `name`, push it; returns the pushed digest (sha256:...)."""
    from envs.rock.docker_backend import client
    from envs.rock.image_build import build_task_image

    build_task_image(context, name, from_map={"ale-base:bookworm": "ale-base:bookworm"})
    repo, _, tag = name.rpartition(":")
    digest = ""
    for event in client().api.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in event, event
        digest = (event.get("aux") or {}).get("Digest", digest)
    assert digest.startswith("sha256:")
    return digest


def _rmi(*names: str) -> None:
    for name in names:
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True)


def test_pull_is_opt_in_and_gives_the_pushed_digest(
    registry: str, tmp_path: Path, sandboxes: list[Sandbox]
) -> None:
    inst, context = official_context(tmp_path)
    inst = inst | {"instance_id": f"ale-test__tinycalc-pull-{os.getpid()}"}
    namespace = f"{registry}/swebench"
    name = official_image_names(inst, namespace)[0]
    assert (
        name
        == f"{registry}/swebench/sweb.eval.x86_64.ale-test_1776_tinycalc-pull-{os.getpid()}:latest"
    )
    digest = _push(context, name)
    _rmi(name)
    try:
        never = SWEBenchSuite([inst], specs=SPECS, namespace=namespace).load(inst["instance_id"])
        with pytest.raises(TaskError, match="--pull"):  # no bundle, no image: never pulled
            never.ensure_image("docker")
        task = SWEBenchSuite([inst], specs=SPECS, namespace=namespace, pull=True).load(
            inst["instance_id"]
        )
        assert task.image_choice("docker").how == "to-pull"
        sb = started(task, sandboxes)
        choice = task.image_choice()
        assert (choice.how, choice.image) == ("pulled", name)
        assert choice.digest == f"{name.rsplit(':', 1)[0]}@{digest}"
        assert "pulled" in task.metadata["image_source"]
        task.apply_oracle(sb)
        assert task.grade(sb).reward == 1.0
        _rmi(name)  # `ale images pull` pulls what is missing, says `present` for the rest
        data = tmp_path / "pull.jsonl"
        data.write_text(json.dumps(inst) + "\n")
        cmd = [sys.executable, "-m", "bench.cli.main", "images", "pull", "--suite", str(data)]
        cmd += ["--namespace", namespace]
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split("\t")[:3] == [inst["instance_id"], "pulled", name]
        assert out.stdout.strip().endswith(digest)
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.stdout.split("\t")[1] == "present", out.stdout
    finally:
        _rmi(name)


# -- environment builds and exact diffs ------------------------------------------------------------
BUILD_SPEC = {
    "python": "3.9",
    "pip_packages": ["pytest<9"],
    # leaves build/ and an egg-info in /testbed, untracked (no .gitignore): not the agent's
    "install": "python setup.py -q build && python -m pip install -q -e .",
    "test_cmd": "pytest -rA -p no:cacheprovider",
}
BUILD_REPO = "ale-test/buildcalc"


def make_buildcalc(root: Path) -> dict[str, Any]:
    """A setuptools package whose `mul` is wrong at base (fixed later in history), a binary
    file, and a folder layout like `<root>/data.jsonl`, `specs.json`, `repos/*.bundle`."""
    repo = root / "src"
    (repo / "buildcalc").mkdir(parents=True)
    (repo / "tests").mkdir()
    git_out(repo, "init", "-q", "-b", "main")
    (repo / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='buildcalc', version='0.1', packages=['buildcalc'])\n"
    )
    (repo / "buildcalc/__init__.py").write_text("def mul(a, b):\n    return a + b\n")
    (repo / "logo.bin").write_bytes(bytes(range(256)))
    (repo / "tests/test_mul.py").write_text(
        "from buildcalc import mul\n\n\ndef test_one():\n    assert mul(1, 1) in (1, 2)\n"
    )
    git_out(repo, "add", "-A")
    git_out(repo, "commit", "-q", "-m", "first")
    (repo / "README").write_text("buildcalc\n")
    git_out(repo, "add", "-A")
    git_out(repo, "commit", "-q", "-m", "readme")
    base = git_out(repo, "rev-parse", "HEAD").strip()
    (repo / "buildcalc/__init__.py").write_text("def mul(a, b):\n    return a * b\n")
    (repo / "tests/test_mul.py").write_text(
        "from buildcalc import mul\n\n\ndef test_one():\n    assert mul(1, 1) in (1, 2)\n\n\n"
        "def test_mul():\n    assert mul(3, 4) == 12\n"
    )
    git_out(repo, "add", "-A")
    patch = git_out(repo, "diff", "--cached", "--", "buildcalc")
    test_patch = git_out(repo, "diff", "--cached", "--", "tests")
    git_out(repo, "commit", "-q", "-m", "fix mul")
    (root / "repos").mkdir()
    git_out(repo, "bundle", "create", "-q", str(root / "repos/buildcalc.bundle"), "--all")
    (root / "specs.json").write_text(json.dumps({BUILD_REPO: {"0.1": BUILD_SPEC}}))
    instance = {
        "instance_id": "ale-test__buildcalc-1",
        "repo": BUILD_REPO,
        "base_commit": base,
        "patch": patch,
        "test_patch": test_patch,
        "problem_statement": "mul(3, 4) returns 7.",
        "version": "0.1",
        "FAIL_TO_PASS": ["tests/test_mul.py::test_mul"],
        "PASS_TO_PASS": ["tests/test_mul.py::test_one"],
        "environment_setup_commit": base,
    }
    (root / "data.jsonl").write_text(json.dumps(instance) + "\n")
    return instance


def _bench(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "bench.cli.main", "bench", *args, "--no-progress"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_built_environment_and_exact_diffs(tmp_path: Path, sandboxes: list[Sandbox]) -> None:
    """No image anywhere: built on bullseye's Python 3.9 from the spec (venv where eval scripts
    look, pip through the index, the repo at base_commit with its history). Its install leaves
    build/ untracked: the empty policy is `empty_patch`, the oracle's patch is the gold patch
    only, and `ale bench grade` of the run's predictions gives the same report.json."""
    instance = make_buildcalc(tmp_path)
    data = tmp_path / "data.jsonl"
    task = SWEBenchSuite(data).load(instance["instance_id"])  # specs.json and repos/ beside it
    plan = task.image_choice("docker")
    assert (plan.how, plan.image, plan.builder) == ("to-build", "ale-base:bullseye", "ale")
    sb = started(task, sandboxes)
    assert (
        task.image_choice().how == "built"
        and "built from the spec" in task.metadata["image_source"]
    )
    assert sh(sb, "python --version").strip() == "Python 3.9.2"
    assert sh(sb, "command -v python").strip() == "/opt/miniconda3/envs/testbed/bin/python"
    assert sh(sb, "python -m pytest --version").startswith("pytest ")
    status = sh(sb, "git status --short --untracked-files=all | grep -c '^??'; git log --format=%s")
    assert int(status.split()[0]) > 0 and status.split("\n", 1)[1].split() == ["readme", "first"]
    assert task.grade(sb).report["model_patch"] == ""  # build/ and the egg-info were there at reset
    sb.run(
        "cd /testbed && printf '\\x00\\xff' > new.bin && echo x >> build/lib/buildcalc/__init__.py"
    )
    patch = task.grade(sb).report["model_patch"]
    assert "GIT binary patch" in patch and "b/build/lib/buildcalc/__init__.py" in patch

    runs = {}
    for policy in ("empty", "oracle"):
        runs[policy] = tmp_path / policy
        _bench(
            "run",
            "--suite",
            str(data),
            "--policy",
            policy,
            "--workers",
            "1",
            "--run-dir",
            str(runs[policy]),
            "--backend",
            "docker",
        )
    empty = [json.loads(ln) for ln in (runs["empty"] / "results.jsonl").read_text().splitlines()]
    assert [(r["status"], r["model_patch"]) for r in empty] == [("empty_patch", "")]
    oracle = [json.loads(ln) for ln in (runs["oracle"] / "results.jsonl").read_text().splitlines()]
    assert [(r["status"], r["model_patch"]) for r in oracle] == [("resolved", instance["patch"])]
    graded = tmp_path / "graded"
    _bench(
        "grade",
        "--predictions",
        str(runs["oracle"] / "predictions.jsonl"),
        "--suite",
        str(data),
        "--run-dir",
        str(graded),
        "--backend",
        "docker",
    )
    assert json.loads((graded / "report.json").read_text()) == json.loads(
        (runs["oracle"] / "report.json").read_text()
    )


def test_official_schema_rows_with_local_images_need_no_files(tmp_path: Path) -> None:
    """Rows in swebench 5's schema (`eval_script`, `image`, `log_parser`, `eval_type`) whose
    images are on the engine: `ale bench run --suite FILE --policy oracle` resolves them all,
    with no specs, bundles or other files written by hand."""
    from envs.rock.docker_backend import client
    from envs.rock.image_build import build_task_image
    from envs.suites.swebench import official_eval as grading

    inst, context = official_context(tmp_path)
    script = grading.make_eval_script(inst, SPECS[inst["repo"]]["1.0"], "/dev/null", conda=True)
    inline = f"git apply -v - <<'EOF_114329324912'\n{inst['test_patch']}EOF_114329324912"
    script = script.replace("git apply -v /dev/null", inline)
    rows, names = [], []
    for n in (1, 2):
        row = inst | {"instance_id": f"ale-test__tinycalc-v5-{os.getpid()}-{n}"}
        name = official_image_names(row)[0]  # swebench/sweb.eval.x86_64.<id _1776_>:latest
        names.append(name)
        rows.append(
            row
            | {
                "image": name,
                "eval_script": script,
                "log_parser": "parse_log_pytest",
                "eval_type": "pass_and_fail",
            }
        )
    build_task_image(context, names[0], from_map={"ale-base:bookworm": "ale-base:bookworm"})
    repo, _, tag = names[1].rpartition(":")
    client().images.get(names[0]).tag(repo, tag)
    data = tmp_path / "v5" / "rows.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        out = _bench(
            "run",
            "--suite",
            str(data),
            "--policy",
            "oracle",
            "--workers",
            "2",
            "--run-dir",
            str(tmp_path / "run"),
            "--backend",
            "docker",
        )
        assert "resolved 2/2 (100.0%)" in out, out
        assert sorted(p.name for p in data.parent.iterdir()) == ["rows.jsonl"]
    finally:
        gc_derived(everything=True, match=f"tinycalc-v5-{os.getpid()}-")  # the run's task images
        _rmi(*names)
