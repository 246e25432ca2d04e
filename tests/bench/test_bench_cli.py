"""`ale bench run | grade | report | compare` end to end, as a user runs them (subprocesses).

The fixture suite (`tests.bench.fixture_suites:answers`) has real tasks with real sandboxes,
the real agent loop and the oracle / empty policies; swe-mini and tb-mini are in
test_bench_suites.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import pytest

from bench.official import official_part, official_report
from bench.store import RunStore
from tests.bench.clihelp import REPO, ale, ale_here, jsonl, our_sandboxes

pytestmark = pytest.mark.docker
SUITE = "tests.bench.fixture_suites:answers"


def bench_run(run_dir: Path, policy: str, tasks: str | None = None, workers: int = 2) -> list[str]:
    args = [
        "bench",
        "run",
        "--suite",
        SUITE,
        "--agent",
        "terminal",
        "--policy",
        policy,
        "--workers",
        str(workers),
        "--run-dir",
        str(run_dir),
        "--backend",
        "docker",
        "--no-progress",
    ]
    return args + (["--tasks", tasks] if tasks else [])


TASKS = "number-00,number-01,number-02,number-03"


def test_oracle_empty_grade_report_compare(tmp_path: Path) -> None:
    oracle, empty, graded = tmp_path / "oracle", tmp_path / "empty", tmp_path / "graded"
    out = ale(*bench_run(oracle, "oracle", TASKS))  # a real `ale` process once
    assert (
        "resolved 4/4 (100.0%)" in out and "ORACLE" not in out
    )  # --policy oracle given: no fallback note
    report = json.loads((oracle / "report.json").read_text())
    ids = TASKS.split(",")
    assert report["resolved_ids"] == ids and report["total_instances"] == 4
    assert official_part(report) == official_report(
        oracle, ids, "oracle"
    )  # the official fields and rules
    preds = jsonl(oracle / "predictions.jsonl")
    assert [p["instance_id"] for p in preds] == ids
    assert all(
        set(p) == {"instance_id", "model_name_or_path", "model_patch"}
        and "+++ b/answer.txt" in str(p["model_patch"])
        for p in preds
    )
    traj = jsonl(oracle / "trajectories" / "number-00__a0.jsonl")
    assert [r["type"] for r in traj] == ["header", "chunk", "chunk", "chunk", "end"]
    assert "echo 3 > /work/answer.txt" in (oracle / "logs" / "number-00__a0.agent.log").read_text()

    out = ale_here(*bench_run(empty, "empty", TASKS))
    assert "resolved 0/4 (0.0%)" in out and "floor" in out
    assert json.loads((empty / "report.json").read_text())["resolved_instances"] == 0

    # grading the oracle's predictions from a file reproduces its report exactly
    ale_here(
        "bench",
        "grade",
        "--predictions",
        str(oracle / "predictions.jsonl"),
        "--suite",
        SUITE,
        "--run-dir",
        str(graded),
        "--backend",
        "docker",
        "--no-progress",
        "--workers",
        "2",
    )
    assert json.loads((graded / "report.json").read_text()) == report

    out = ale_here("bench", "compare", str(oracle), str(empty))
    assert "number-02: resolved -> unresolved" in out and "resolved 4/4" in out
    ale_here("bench", "report", str(oracle))
    md = (oracle / "report.md").read_text()
    for name in ("resolve_by_category", "turns_per_task", "time_per_task", "tokens_per_task"):
        png = oracle / f"{name}.png"
        assert png.stat().st_size > 1000 and f"({name}.png)" in md
        pixels = matplotlib.image.imread(png)
        assert (
            pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.01
        )  # drawn, not blank
    assert our_sandboxes(oracle) == [] and our_sandboxes(graded) == []


def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [sys.executable, "-m", "bench.cli.main", *bench_run(run, "oracle", workers=2)]
    env = {**os.environ, "ALE_TEST_ORACLE_SLEEP": "1"}
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ledger = run / "results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists() and len(ledger.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {r.task_id for r in RunStore(run).results()}  # a torn last line is skipped
    assert 3 <= len(done_before) < 12
    finished_before = {
        t: (run / "trajectories" / f"{t}__a0.jsonl").read_bytes() for t in done_before
    }

    out = ale(*bench_run(run, "oracle", workers=2), env={"ALE_TEST_ORACLE_SLEEP": "0"})
    assert "resolved 12/12 (100.0%)" in out
    rows = []
    for line in ledger.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line torn by the kill, sealed and ignored
            continue
    ids = [f"number-{i:02d}" for i in range(12)]
    assert (
        sorted(str(r["task_id"]) for r in rows) == ids
    )  # every task exactly once: none lost, none run twice
    for t, data in finished_before.items():  # finished tasks were not run again
        assert (run / "trajectories" / f"{t}__a0.jsonl").read_bytes() == data
    assert [p["instance_id"] for p in jsonl(run / "predictions.jsonl")] == ids
    report = json.loads((run / "report.json").read_text())
    assert (
        report["submitted_ids"] == ids
        and report["resolved_ids"] == ids
        and report["incomplete_ids"] == []
    )
    assert our_sandboxes(run) == []


class _Endpoint:
    """A loopback OpenAI-compatible server whose model writes the answer, then submits."""

    def __init__(self) -> None:
        import http.server
        import threading

        requests: list[dict[str, object]] = []
        self.requests = requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                requests.append(body)
                task = str(body["messages"][1]["content"])  # type: ignore[index]
                number = task.split("Write the number ")[1].split()[0]
                answered = any(m["role"] == "assistant" for m in body["messages"])
                text = (
                    "```bash\nsubmit\n```"
                    if answered
                    else f"```bash\necho {number} > /work/answer.txt\n```"
                )
                reply = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_main_job_uses_the_configured_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = _Endpoint()
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint.url)
    monkeypatch.setenv("OPENAI_MODEL", "tiny-coder")
    try:
        out = ale_here(
            "bench",
            "run",
            "--suite",
            SUITE,
            "--agent",
            "terminal",
            "--workers",
            "2",
            "--tasks",
            "number-04,number-05",
            "--run-dir",
            str(tmp_path / "run"),
            "--backend",
            "docker",
            "--no-progress",
        )
    finally:
        endpoint.server.shutdown()
    assert f"the OpenAI-compatible endpoint {endpoint.url}, model tiny-coder" in out
    assert "resolved 2/2 (100.0%)" in out and len(endpoint.requests) == 4
    preds = jsonl(tmp_path / "run" / "predictions.jsonl")
    assert {p["model_name_or_path"] for p in preds} == {"tiny-coder"}
    assert all(r["tokens"] == 2 * 57 for r in jsonl(tmp_path / "run" / "results.jsonl"))
