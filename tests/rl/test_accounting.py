"""Per-phase accounting of `ale train` steps (`rl.accounting`) and the progress display
(`rl.progress`): exclusive wall-time shares that sum to 1, cores busy per activity, grading
moved out of env time, and a display that renders without a terminal."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from rl.accounting import ACTIVITIES, Account, split_metrics
from rl.progress import TrainDisplay, final_summary, phase_split


class FakeClock:
    """A wall clock and a busy-CPU counter the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0
        self.cpu = 0.0

    def tick(self, seconds: float, cores: float) -> None:
        self.t += seconds
        self.cpu += seconds * cores


def test_overlapping_activities_are_charged_to_the_highest_priority_one() -> None:
    c = FakeClock()
    acc = Account(clock=lambda: c.t, cpu=lambda: c.cpu)
    c.tick(1.0, 0.5)  # nothing running: other
    acc.enter("env_wait")  # thread 1 waits on an env
    c.tick(2.0, 0.2)
    acc.enter("env_wait")  # thread 2 too: still one stretch of env wait
    acc.enter("generation")  # generation outranks env wait
    c.tick(3.0, 1.0)
    acc.leave("generation")
    acc.leave("env_wait")
    c.tick(1.0, 0.2)
    acc.leave("env_wait")
    with acc.active("train"):
        acc.enter("generation")  # async producer generating while the trainer trains
        c.tick(4.0, 2.0)
        acc.leave("generation")
    acc.move("env_wait", "grading", 0.5)  # a step reported 0.5 s of grading
    period = acc.take()
    assert {a: w for a, (w, _) in period.items() if w} == {
        "other": 1.0,
        "env_wait": 2.5,
        "grading": 0.5,
        "generation": 3.0,
        "train": 4.0,
    }
    m = split_metrics(period)
    assert abs(sum(m[f"frac/{a}"] for a in ACTIVITIES) - 1.0) < 1e-9
    assert m["cores/train"] == 2.0 and m["cores/generation"] == 1.0
    assert abs(m["cores/env_wait"] - 0.2) < 1e-9 and abs(m["cores/grading"] - 0.2) < 1e-9
    assert "cores/sync" not in m  # did not run
    assert all(w == 0 for w, _ in acc.take().values())  # a new period starts empty


def test_account_is_consistent_under_many_threads() -> None:
    acc = Account()

    def work() -> None:
        for _ in range(200):
            with acc.active("env_wait"), acc.active("generation"):
                pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    period = acc.take()
    assert all(w >= 0 for w, _ in period.values())
    assert acc._running == dict.fromkeys(acc._running, 0)  # every enter left


ROW = {
    "step": 2,
    "reward_mean": 0.5,
    "train_success": 0.25,
    "staleness_max": 1,
    "cores/all": 1.5,
    **{
        f"frac/{a}": f
        for a, f in zip(ACTIVITIES, [0.4, 0.2, 0.1, 0.2, 0.05, 0.0, 0.05], strict=True)
    },
}


def test_live_display_renders_without_a_terminal(tmp_path: Path) -> None:
    out = io.StringIO()  # not a tty: rich prints the final frame when the display stops
    with TrainDisplay("live", 3, 0, tmp_path, out) as display:
        display.evaluation(0, 0.0, 4, 1.2)
        display.step({**ROW, "step": 1})
        display.step(ROW)
    text = out.getvalue()
    assert "eval step 0: success 0.00 (4 episodes, 1.2 s)" in text
    assert "ale train" in text and "step 2/3" in text and "67%" in text
    assert phase_split(ROW) in text and "bound by gen, 1.5 machine cores busy, staleness 1" in text
    assert "\x1b[" not in text  # no terminal codes


def test_quiet_lines_and_final_summary(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text("")
    out = io.StringIO()
    with TrainDisplay("lines", 3, 0, tmp_path, out) as display:
        display.step({**ROW, "step": 1})
        display.summary(
            final_summary(tmp_path, 0, 3, 75.0, 0.0, 0.5, {"generation": 3.0, "train": 1.0}, 12, 0)
        )
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("step 1/3 reward 0.50 success 0.25 eval - | gen 40% env 20%")
    assert lines[1].endswith("ETA " + lines[1].rsplit("ETA ", 1)[1]) and "|" in lines[1]
    assert (
        lines[2]
        == "done: steps 0->3 in 1m15s, 12 episodes (0 dropped), success from scratch 0.00 -> 0.50"
    )
    assert lines[3].startswith("where the time went: gen 75% env 0% grade 0% train 25%")
    assert lines[4] == f"files: {tmp_path} (metrics.jsonl)"
