"""Stopping a run (`bench.interrupt`) with in-process runners: what is recorded, what is dropped,
what a second signal changes, and the signal handlers themselves. The same on real sandboxes,
through the CLI: test_bench_signals.py."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import bench.harness
from bench.harness import run_bench
from bench.interrupt import Cancelled, Interrupted, StopSwitch
from bench.store import AttemptResult, RunStore
from bench.tasks import BenchSuite
from tests.bench.fixture_suites import NumberSuite

IDS = ["a", "b", "c", "d", "e", "f"]
BOUND_S = 60.0  # generous: every wait below ends on an event long before


class Blocking:
    """Resolves `a`, `b` at once; the others block until `released` (their sandbox removed),
    then fail as an episode whose sandbox vanished does (infra_error)."""

    def __init__(self, release_on_sweep: bool = True) -> None:
        self.calls: list[str] = []
        self.started = {t: threading.Event() for t in IDS}
        self.released = threading.Event()
        self.release_on_sweep = release_on_sweep
        self.sweeps = 0

    def __call__(self, task_id: str, attempt: int, store: RunStore) -> AttemptResult:
        self.calls.append(task_id)
        self.started[task_id].set()
        if task_id not in ("a", "b"):
            assert self.released.wait(BOUND_S)
            return AttemptResult(task_id, attempt, "infra_error", error="sandbox removed")
        return AttemptResult(task_id, attempt, "resolved", reward=1.0)

    def sweep(self, run_id: str, live: bool = False) -> int:
        """Stands in for removing the run's sandboxes: what ends the blocked episodes."""
        self.sweeps += 1
        if live and self.release_on_sweep:
            self.released.set()
        return 0


def trip_when_started(
    stop: StopSwitch, runner: Blocking, store: RunStore, signum: int, times: int = 1
) -> None:
    """Trip `stop` once a and b are in the ledger and c, d, e run (3 workers: f waits)."""

    def go() -> None:
        assert all(runner.started[t].wait(BOUND_S) for t in "cde")
        deadline = time.monotonic() + BOUND_S
        while len(store.done()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(times):
            stop.trip(signum)

    threading.Thread(target=go, daemon=True).start()


def ledger_rows(store: RunStore) -> list[dict[str, object]]:
    raw = store.ledger.read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode().splitlines()]  # every line complete


def test_stop_records_what_ended_drops_the_rest_and_resume_runs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Blocking()
    monkeypatch.setattr(bench.harness, "collect_quietly", runner.sweep)
    store, stop = RunStore(tmp_path), StopSwitch()
    trip_when_started(stop, runner, store, signal.SIGTERM)
    with pytest.raises(Interrupted) as info:
        run_bench(store, IDS, runner, "m", workers=3, show_progress=False, stop=stop)
    assert info.value.exit_code == 143 and info.value.running == 0
    # a, b ended before the stop; c, d, e failed because of it: neither recorded nor retried
    assert sorted(str(r["task_id"]) for r in ledger_rows(store)) == ["a", "b"]
    assert sorted(runner.calls) == ["a", "b", "c", "d", "e"]  # f never handed out
    report = json.loads((store.root / "report.json").read_text())
    assert report["incomplete_ids"] == ["c", "d", "e", "f"]  # derived files follow the ledger

    again = Blocking()
    again.released.set()
    monkeypatch.setattr(bench.harness, "collect_quietly", again.sweep)
    run_bench(store, IDS, lambda t, a, s: AttemptResult(t, a, "resolved"), "m", show_progress=False)
    rows = ledger_rows(store)
    assert sorted(str(r["task_id"]) for r in rows) == IDS  # each once: none lost, none twice


def test_second_signal_stops_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = Blocking(release_on_sweep=False)  # c and d do not end when their sandbox goes
    monkeypatch.setattr(bench.harness, "collect_quietly", runner.sweep)
    monkeypatch.setattr(bench.harness, "DRAIN_S", 3600.0)  # only the second signal ends the wait
    store, stop = RunStore(tmp_path), StopSwitch()
    trip_when_started(stop, runner, store, signal.SIGINT, times=2)
    try:
        with pytest.raises(Interrupted) as info:
            run_bench(store, IDS, runner, "m", workers=3, show_progress=False, stop=stop)
    finally:
        runner.released.set()
    assert info.value.exit_code == 130 and info.value.running == 3
    assert runner.sweeps >= 2  # removed before and after (not) waiting
    assert sorted(str(r["task_id"]) for r in ledger_rows(store)) == ["a", "b"]


def test_an_attempt_that_ends_after_the_stop_is_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.harness, "collect_quietly", lambda run_id, live=False: 0)
    store, stop = RunStore(tmp_path), StopSwitch()

    def resolves_during_stop(task_id: str, attempt: int, s: RunStore) -> AttemptResult:
        stop.trip(signal.SIGTERM)
        return AttemptResult(task_id, attempt, "resolved")

    with pytest.raises(Interrupted):
        run_bench(
            store, ["a"], resolves_during_stop, "m", workers=1, show_progress=False, stop=stop
        )
    assert store.results() == []


def test_a_stopping_run_starts_no_sandbox() -> None:
    stop = StopSwitch()
    task = BenchSuite(NumberSuite(1), {"ale.bench.run": "x"}, stop).load("number-00")
    assert task.sandbox_spec().labels["ale.bench.run"] == "x"
    stop.trip(signal.SIGTERM)
    for phase in (task.sandbox_spec, lambda: task.ensure_image("docker")):
        with pytest.raises(Cancelled):
            phase()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_handling_routes_signals_and_restores_handlers(signum: int) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set in the main thread")
    before = signal.getsignal(signum)
    stop = StopSwitch()
    with stop.handling():
        with pytest.raises(Interrupted) as info:  # no run yet: nothing to clean, stop here
            os.kill(os.getpid(), signum)  # Python runs the handler before the next line
        assert info.value.exit_code == 128 + signum and not stop.stopping
    assert signal.getsignal(signum) == before

    stop = StopSwitch()
    with stop.handling(), stop.arming():
        os.kill(os.getpid(), signum)  # a run: the switch trips, the harness cleans up
        assert stop.stopping and not stop.hurrying and stop.signum == signum
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.hurrying and stop.signum == signum  # the first signal names the exit code
    assert signal.getsignal(signum) == before and not stop.armed
    assert stop.interrupted().exit_code == 128 + signum
