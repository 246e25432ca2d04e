"""One measurement rule for every performance benchmark (`bench.perf.*`).

Every comparison runs its sides in alternating order over the same work: ABBA (A B, B A,
A B, ...; with more sides each round reversed from the last) or shuffled rounds (each round a
fresh seeded permutation), at least `MIN_REPEATS` rounds. Results are medians with their
spread (min-max over the samples), and every benchmark prints its method line (order,
repeats, sides) and the machine's load (`os.getloadavg()` and cores) beside the numbers:

    >>> rounds = schedule(["ours", "raw"], 2)
    >>> rounds
    [['ours', 'raw'], ['raw', 'ours']]
    >>> Samples([0.3, 0.1, 0.2]).median
    0.2

`OpCount` counts operations as they are performed (thread-safe), so a test can hold both
sides of a benchmark to the same commands and the same number of operations.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

T = TypeVar("T")
Order = Literal["abba", "shuffled"]
MIN_REPEATS = 2
ORDERS: tuple[Order, ...] = ("abba", "shuffled")


def schedule(
    sides: Sequence[str], repeats: int, order: Order = "abba", seed: int = 0
) -> list[list[str]]:
    """The sides' order in each round: ABBA (even rounds as given, odd ones reversed) or a
    seeded shuffle per round."""
    rng = random.Random(seed)
    rounds = []
    for r in range(repeats):
        if order == "shuffled":
            this = list(sides)
            rng.shuffle(this)
        else:
            this = list(sides) if r % 2 == 0 else list(sides)[::-1]
        rounds.append(this)
    return rounds


def alternate(
    sides: Mapping[str, Callable[[], T]], repeats: int, order: Order = "abba", seed: int = 0
) -> dict[str, list[T]]:
    """Run each side once per round in `schedule` order; {side: its results, round by round}."""
    out: dict[str, list[T]] = {name: [] for name in sides}
    for round_ in schedule(list(sides), repeats, order, seed):
        for name in round_:
            out[name].append(sides[name]())
    return out


def check_repeats(repeats: int, what: str = "--repeats") -> int:
    """`repeats` when >= MIN_REPEATS; otherwise one line on stderr and exit 2 (bad input)."""
    if repeats < MIN_REPEATS:
        print(
            f"error: {what} {repeats}: alternating order needs >= {MIN_REPEATS} repeats",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return repeats


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} (1/5 min) on {os.cpu_count()} cores"


@dataclass(frozen=True)
class Method:
    """How a benchmark measured: printed with its result (`line()`)."""

    sides: tuple[str, ...]
    repeats: int
    order: Order = "abba"
    unit: str = ""
    """What one round of a side is (e.g. "200 steps", "the whole suite")."""

    def line(self) -> str:
        how = "ABBA" if self.order == "abba" else "shuffled rounds"
        per = f", each round {self.unit}" if self.unit else ""
        return (
            f"method: {how} over {' / '.join(self.sides)}, {self.repeats} repeats{per}; "
            f"medians (min-max); {machine_load()}"
        )


@dataclass
class Samples:
    """Timings (or rates) of one side."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def pct(self, q: float) -> float:
        s = sorted(self.values)
        return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")

    @property
    def p50(self) -> float:
        return self.median

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.values), max(self.values)) if self.values else (float("nan"),) * 2

    def text(self, scale: float = 1.0, digits: int = 2) -> str:
        """'median (min-max)' scaled (1000.0 for ms)."""
        lo, hi = self.spread
        return f"{self.median * scale:.{digits}f} ({lo * scale:.{digits}f}-{hi * scale:.{digits}f})"


def ratio_text(ours: Samples, base: Samples) -> str:
    """'1.05x (per-round 0.98-1.10x)' when both have one value per round, else the median ratio."""
    r = ours.median / base.median if base.median else float("nan")
    if len(ours.values) == len(base.values) > 1:
        per = [a / b for a, b in zip(ours.values, base.values, strict=True) if b]
        return f"{r:.3f}x (per round {min(per):.3f}-{max(per):.3f}x)"
    return f"{r:.3f}x"


class OpCount:
    """Operations as they are performed, by name (thread-safe)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, op: str, n: int = 1) -> None:
        with self._lock:
            self.counts[op] += n

    def __getitem__(self, op: str) -> int:
        return self.counts[op]

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def per(self, n: int) -> dict[str, float]:
        return {op: c / n for op, c in sorted(self.counts.items())}
