"""What `ale train` shows while it runs: a live display, or plain lines for logs.

- `live` (the default): a rich progress bar (step of steps, elapsed, ETA) with a second line of
  the latest rollout reward / success, eval success, the step's phase split (`rl.accounting`),
  cores busy and staleness. On a terminal it refreshes in place; elsewhere rich prints the
  final frame when the run ends.
- `lines` (`--quiet`): one plain line per step, nothing redrawn, no colour: for log files.
- `off` (`run.progress: false`, `--no-progress`): no per-step output.
Every mode prints one line per evaluation and a final summary naming the run's files.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

from rl.accounting import ACTIVITIES

Mode = Literal["live", "lines", "off"]
SHORT = {
    "generation": "gen",
    "env_wait": "env",
    "grading": "grade",
    "train": "train",
    "sync": "sync",
    "eval": "eval",
    "other": "other",
}


def phase_split(row: Mapping[str, Any]) -> str:
    """'gen 41% env 22% grade 0% train 30% sync 1% eval 3% other 3%' from `frac/*` metrics."""
    return " ".join(f"{SHORT[a]} {100 * float(row.get(f'frac/{a}', 0.0)):.0f}%" for a in ACTIVITIES)


def bound_by(row: Mapping[str, Any]) -> str:
    """The activity that took the largest share of the step ('other' included)."""
    return max(ACTIVITIES, key=lambda a: float(row.get(f"frac/{a}", 0.0)))


def duration(seconds: float) -> str:
    """'1h02m', '3m05s', '12s'."""
    s = int(max(seconds, 0))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def step_text(row: Mapping[str, Any], eval_success: float | None, sep: str = " | ") -> str:
    """The per-step facts (no step counter), in three parts joined by `sep`."""
    ev = f"{eval_success:.2f}" if eval_success is not None else "-"
    return sep.join(
        (
            f"reward {row['reward_mean']:.2f} success {row['train_success']:.2f} eval {ev}",
            phase_split(row),
            f"bound by {SHORT[bound_by(row)]}, {float(row.get('cores/all', 0.0)):.1f} machine "
            f"cores busy, staleness {row.get('staleness_max', 0)}",
        )
    )


class TrainDisplay:
    """Progress of one `ale train` run (see the module docstring for the modes)."""

    def __init__(
        self, mode: Mode, total: int, done: int, run_dir: Path, out: TextIO | None = None
    ) -> None:
        self.mode, self.total, self.done, self.run_dir = mode, total, done, run_dir
        self.out = out if out is not None else sys.stdout
        self.first = done
        self.eval_success: float | None = None
        self._t0 = time.perf_counter()
        self._live: Any = None
        self._console: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> TrainDisplay:
        self.say(f"ale train: run folder {self.run_dir}, steps {self.done + 1}..{self.total}")
        if self.mode == "live":
            from rich.console import Console, Group
            from rich.live import Live
            from rich.progress import Progress, TextColumn, TimeElapsedColumn
            from rich.text import Text

            self._console = Console(file=self.out)
            *bar, remaining = Progress.get_default_columns()  # description, bar, %; ETA
            self._progress = Progress(
                *bar,
                TextColumn("step {task.completed}/{task.total}  elapsed"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                remaining,
                console=self._console,
            )
            self._bar = self._progress.add_task(
                "[bold]ale train", total=self.total, completed=self.done
            )
            self._info = Text("waiting for the first step (initial eval, env start-up)")
            self._live = Live(
                Group(self._progress, self._info), console=self._console, refresh_per_second=4
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def say(self, line: str) -> None:
        """A line above the live display (or a plain line)."""
        if self._console is not None:
            self._console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.out, flush=True)

    # -- events ------------------------------------------------------------------------------
    def eta_s(self) -> float:
        steps = self.done - self.first
        if steps <= 0:
            return float("nan")
        return (time.perf_counter() - self._t0) / steps * (self.total - self.done)

    def step(self, row: Mapping[str, Any]) -> None:
        self.done = int(row["step"])
        if "eval_success" in row:
            self.eval_success = float(row["eval_success"])
        if self.mode == "live":
            self._progress.update(self._bar, completed=self.done)
            self._info.plain = step_text(row, self.eval_success, "\n")
        elif self.mode == "lines":
            eta = self.eta_s()
            eta_s = duration(eta) if eta == eta else "-"
            self.say(
                f"step {self.done}/{self.total} {step_text(row, self.eval_success)} | ETA {eta_s}"
            )

    def evaluation(self, step: int, success: float, episodes: int, seconds: float) -> None:
        self.eval_success = success
        self.say(f"eval step {step}: success {success:.2f} ({episodes} episodes, {seconds:.1f} s)")

    def summary(self, lines: list[str]) -> None:
        for line in lines:
            self.say(line)


def final_summary(
    run_dir: Path,
    start_step: int,
    steps: int,
    wall_s: float,
    initial: float | None,
    final: float | None,
    totals: Mapping[str, float],
    episodes: int,
    dropped: int,
) -> list[str]:
    """The lines printed when a run ends: outcome, where the time went, where the files are."""
    wall = sum(totals.values())
    split = " ".join(
        f"{SHORT[a]} {100 * totals.get(a, 0.0) / wall:.0f}%" for a in ACTIVITIES if wall > 0
    )
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    files = ", ".join(
        f
        for f in ("metrics.jsonl", "phases.jsonl", "tb/", "curves.png", "checkpoints/")
        if (run_dir / f.rstrip("/")).exists()
    )
    return [
        f"done: steps {start_step}->{steps} in {duration(wall_s)}, {episodes} episodes "
        f"({dropped} dropped), success from scratch {fmt(initial)} -> {fmt(final)}",
        f"where the time went: {split}" if wall > 0 else "where the time went: -",
        f"files: {run_dir} ({files})",
    ]
