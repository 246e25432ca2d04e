"""SWE-bench attempts a user can act on: a grading past its time limit is `test_timeout` with
the limit, a task without a spec is `task_error` with the reason; neither is retried, neither
is `empty_patch`, in results.jsonl, report.json and the console line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents.config import AgentConfig
from agents.policies import make_policy
from bench.harness import run_bench
from bench.runners import AgentRunner
from bench.store import RunStore
from bench.tasks import BenchSuite
from envs.suites.swebench import SWEBenchSuite
from tests.bench.clihelp import REPO
from tests.suites.swebench_checks import remove_image
from tests.suites.test_swebench_suite import REPO as TINY_REPO
from tests.suites.test_swebench_suite import make_tiny

pytestmark = pytest.mark.docker


def test_grading_past_its_limit_is_a_test_timeout(tmp_path: Path) -> None:
    inst, repos = make_tiny(tmp_path / "tiny")
    specs = {TINY_REPO: {"1.0": {"test_cmd": "sleep 30; python3 -m pytest -rA"}}}
    suite = SWEBenchSuite([inst], repos_dir=repos, specs=specs, test_timeout_s=2)
    runner = AgentRunner(
        BenchSuite(suite, {"ale.bench.run": f"test-timeout-{tmp_path.name}"}),
        AgentConfig.load("swe"),
        lambda: make_policy("oracle"),
        backend="docker",
    )
    store = RunStore(tmp_path / "run")
    try:
        report = run_bench(
            store, [inst["instance_id"]], runner, "oracle", workers=1, show_progress=False
        )
    finally:
        runner.close()
        image = suite.load(inst["instance_id"]).task_image  # this test's data: remove its image
        if image is not None:
            assert remove_image("docker", image.derived.image)
    (result,) = store.results()
    assert (result.status, result.test_timeout_s, result.infra_retries) == ("test_timeout", 2.0, 0)
    assert result.error == "the tests ran past the 2 s limit (test timeout)"
    assert result.model_patch == inst["patch"]  # the oracle's patch, graded and timed out
    assert report["status_ids"]["test_timeout"] == [inst["instance_id"]]
    assert report["test_timeout_limits"] == {inst["instance_id"]: 2.0}
    assert report["status_counts"]["empty_patch"] == 0


def test_missing_spec_is_a_task_error_never_retried(tmp_path: Path) -> None:
    inst, _ = make_tiny(tmp_path / "tiny")
    data = tmp_path / "nospec" / "rows.jsonl"
    data.parent.mkdir()
    data.write_text(json.dumps(inst) + "\n")
    run = tmp_path / "run"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli.main",
            "bench",
            "run",
            "--suite",
            str(data),
            "--policy",
            "oracle",
            "--run-dir",
            str(run),
            "--backend",
            "docker",
            "--no-progress",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (row,) = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert (row["status"], row["infra_retries"]) == ("task_error", 0)
    assert "no spec for ale-test/tinycalc version '1.0'" in row["error"]
    report = json.loads((run / "report.json").read_text())
    assert report["status_ids"]["task_error"] == [inst["instance_id"]]
    line = (
        out.stdout.splitlines()[0]
        if "resolved" in out.stdout.splitlines()[0]
        else next(ln for ln in out.stdout.splitlines() if ln.startswith("resolved "))
    )
    assert "task_error 1" in line and "empty_patch 0" in line, out.stdout
