"""SIGINT / SIGTERM to `ale bench run` and `ale bench grade` mid-run (issue 12, item 7): exit
130 / 143, nothing of the run left running, a ledger of complete lines holding only the
attempts that ended before the signal; the same command then finishes the rest and reports
what a run never stopped reports. Real processes, real sandboxes on docker and local, the
`answers` fixture suite with two tasks that sleep (`ALE_TEST_SLEEP_TASKS`) so the signal lands
mid-episode (or mid-grading); waits poll for events with generous bounds."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.store import run_id_of
from bench.tasks import RUN_LABEL
from tests.bench.clihelp import REPO, ale, jsonl

SUITE = "tests.bench.fixture_suites:answers"
IDS = ["number-00", "number-01", "number-02", "number-03"]
SLOW = "number-02,number-03"  # sorted last: 00 and 01 end first, then these sleep
BOUND_S = 300.0


def case(backend: str, signum: int) -> object:
    mark = pytest.mark.docker if backend == "docker" else pytest.mark.local
    return pytest.param(backend, signum, marks=mark, id=f"{backend}-{signal.Signals(signum).name}")


def run_args(run_dir: Path, backend: str) -> list[str]:
    return [
        *("bench", "run", "--suite", SUITE, "--agent", "terminal", "--policy", "oracle"),
        *("--tasks", ",".join(IDS), "--workers", "2", "--backend", backend, "--no-progress"),
        *("--run-dir", str(run_dir)),
    ]


def grade_args(run_dir: Path, predictions: Path, backend: str) -> list[str]:
    return [
        *("bench", "grade", "--predictions", str(predictions), "--suite", SUITE),
        *("--workers", "2", "--backend", backend, "--no-progress", "--run-dir", str(run_dir)),
    ]


def labelled(run_dir: Path) -> list[str]:
    """Sandboxes (docker and local) carrying the run's label."""
    from envs.rock.gc import list_all

    run_id = run_id_of(run_dir)
    return [f"{r.backend}:{r.id}" for r in list_all() if r.labels.get(RUN_LABEL) == run_id]


def ledger(run_dir: Path) -> list[str]:
    """The ledger's task ids; every line must be complete JSON."""
    raw = (run_dir / "results.jsonl").read_bytes() if (run_dir / "results.jsonl").exists() else b""
    assert raw == b"" or raw.endswith(b"\n"), raw[-200:]
    return [str(json.loads(line)["task_id"]) for line in raw.decode().splitlines()]


def wait_for(proc: subprocess.Popen[bytes], what: str, ok: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND_S
    while not ok():
        assert proc.poll() is None, f"the command exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {BOUND_S:.0f} s"
        time.sleep(0.2)


def started(run_dir: Path, ids: list[str]) -> bool:
    """These episodes are past their reset (the trajectory's header is written then; the
    file itself exists before)."""
    paths = [run_dir / "trajectories" / f"{t}__a0.jsonl" for t in ids]
    return all(p.exists() and b'"header"' in p.read_bytes() for p in paths)


def slow_ones_running(run_dir: Path, episodes: bool = True) -> Callable[[], bool]:
    """00 and 01 recorded, 02 and 03 running in labelled sandboxes (their episodes started)."""
    return lambda: (
        len(ledger(run_dir)) == 2
        and (not episodes or started(run_dir, SLOW.split(",")))
        and len(labelled(run_dir)) >= 2
    )


def interrupt(
    tmp_path: Path,
    args: list[str],
    env: dict[str, str],
    ready: Callable[[], bool],
    signum: int,
    twice: bool = False,
) -> str:
    """Start `ale ARGS`; once `ready`, send `signum` (twice: again once it says it is
    stopping); returns its stderr, after checking the exit code."""
    err = tmp_path / "stderr"
    with err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.cli.main", *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for(proc, "the moment to signal", ready)
        proc.send_signal(signum)
        if twice:
            wait_for(proc, "'stopping' on stderr", lambda: b"stopping" in err.read_bytes())
            proc.send_signal(signum)
        code = proc.wait(timeout=BOUND_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.read_text()
    assert code == 128 + signum, text
    return text


def check_stopped(run_dir: Path, stderr: str, command: str) -> dict[str, bytes]:
    """Nothing of the run left, 00 and 01 recorded, the resume line; 00's and 01's records."""
    assert labelled(run_dir) == [], stderr
    assert sorted(ledger(run_dir)) == IDS[:2], stderr  # 02, 03 were stopped: no verdict
    (line,) = [x for x in stderr.splitlines() if "resume with the same command" in x]
    assert f"2/4 attempts recorded in {run_dir / 'results.jsonl'}" in line
    assert line.endswith(command), line
    return {
        p.name: p.read_bytes()
        for p in sorted((run_dir / "logs").glob("*"))
        if p.name.startswith(("number-00", "number-01"))
    }


def check_resumed(run_dir: Path, clean_dir: Path, before: dict[str, bytes]) -> None:
    assert sorted(ledger(run_dir)[:2]) == IDS[:2]  # kept as they were, the rest appended
    assert sorted(ledger(run_dir)) == IDS  # each once
    for name, data in before.items():  # recorded attempts were not run again
        path = run_dir / "trajectories" / f"{name}__a0.jsonl"
        assert (path if name in IDS else run_dir / "logs" / name).read_bytes() == data, name
    report = json.loads((run_dir / "report.json").read_text())
    assert report == json.loads((clean_dir / "report.json").read_text())
    assert labelled(run_dir) == []


@pytest.mark.parametrize(
    ("backend", "signum"),
    [
        case("docker", signal.SIGTERM),
        case("local", signal.SIGINT),
    ],
)
def test_bench_run_stops_on_signal_and_resumes(tmp_path: Path, backend: str, signum: int) -> None:
    run, clean = tmp_path / "run", tmp_path / "clean"
    slow = {"ALE_TEST_ORACLE_SLEEP": "600", "ALE_TEST_SLEEP_TASKS": SLOW}
    args = run_args(run, backend)
    stderr = interrupt(tmp_path, args, slow, slow_ones_running(run), signum)
    before = check_stopped(run, stderr, shlex.join(["ale", *args]))
    before.update({t: (run / "trajectories" / f"{t}__a0.jsonl").read_bytes() for t in IDS[:2]})

    out = ale(*args)  # the same command; the tasks no longer sleep
    assert "resolved 4/4 (100.0%)" in out
    ale(*run_args(clean, backend))
    check_resumed(run, clean, before)


@pytest.mark.parametrize(
    ("backend", "signum"),
    [case("docker", signal.SIGTERM), case("local", signal.SIGINT)],
)
def test_bench_grade_stops_on_signal_and_resumes(tmp_path: Path, backend: str, signum: int) -> None:
    predictions = tmp_path / "preds.jsonl"
    answers = {t: str(7 * int(t[-2:]) + 3) for t in IDS}
    answers["number-01"] = "999"  # one wrong answer: an unresolved verdict in both reports
    predictions.write_text(
        "".join(
            json.dumps(
                {
                    "instance_id": t,
                    "model_name_or_path": "hand",
                    "model_patch": "diff --git a/answer.txt b/answer.txt\nnew file mode 100644\n"
                    f"--- /dev/null\n+++ b/answer.txt\n@@ -0,0 +1 @@\n+{n}\n",
                }
            )
            + "\n"
            for t, n in answers.items()
        )
    )
    run, clean = tmp_path / "graded", tmp_path / "clean"
    slow = {"ALE_TEST_GRADE_SLEEP": "600", "ALE_TEST_SLEEP_TASKS": SLOW}
    args = grade_args(run, predictions, backend)
    stderr = interrupt(tmp_path, args, slow, slow_ones_running(run, episodes=False), signum)
    before = check_stopped(run, stderr, shlex.join(["ale", *args]))

    out = ale(*args)
    assert "resolved 3/4 (75.0%)" in out
    ale(*grade_args(clean, predictions, backend))
    check_resumed(run, clean, before)
    assert jsonl(run / "predictions.jsonl") == jsonl(clean / "predictions.jsonl")


@pytest.mark.docker
def test_second_signal_does_not_wait_for_a_hung_model(tmp_path: Path) -> None:
    """Episodes blocked on a model endpoint that never answers do not end when their sandbox
    goes: the first SIGINT removes the sandboxes and waits, the second stops the wait; exit
    130 without those threads, nothing recorded, nothing left running."""
    hung = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never answers
    run = tmp_path / "run"
    url = f"http://127.0.0.1:{hung.getsockname()[1]}/v1"
    args = run_args(run, "docker")
    args[args.index("oracle")] = f"openai:hung@{url}"
    running = lambda: started(run, IDS[:2]) and len(labelled(run)) >= 2  # noqa: E731
    try:
        stderr = interrupt(tmp_path, args, {}, running, signal.SIGINT, twice=True)
    finally:
        hung.close()
    assert "2 attempt(s) had not ended" in stderr, stderr
    assert labelled(run) == [] and ledger(run) == []


def test_a_signal_before_the_run_exits_at_once(tmp_path: Path) -> None:
    """While the suite loads no sandbox exists: the command stops where it is, exit 143."""
    mark = tmp_path / "loading"
    args = ["bench", "run", "--suite", "tests.bench.fixture_suites:slow_loading", "--no-progress"]
    args += ["--run-dir", str(tmp_path / "run")]
    env = {"ALE_TEST_LOADING_MARK": str(mark)}
    stderr = interrupt(tmp_path, args, env, mark.exists, signal.SIGTERM)
    assert stderr.strip() == (
        "stopped by SIGTERM (none of its sandboxes was running); run the same command to go on"
    )
