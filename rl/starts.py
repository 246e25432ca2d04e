"""Start states of each rollout batch: the resampling strategies of `rollout.resample`.

Chunk-level initialized resampling (paper 3.2.4) from one expert trajectory per task
(`rl.resampling` has the pieces; this module picks between them for `ale train`):

- `parallel`: anchors uniform in 1..K for a batch at once (`parallel_starts`);
- `rollback`: sequential curriculum, each expert's anchor moves back from K once the success
  rate there reaches `rollback_threshold` (`RollbackCurriculum`, fed by `record`);
- `crucial`: anchors at each expert's crucial chunk (`crucial_chunk` of `success_by_anchor`),
  measured with the current policy every `crucial_every` batches (`before_batch`);
- `none`: every episode from scratch.

A `scratch_frac` share of the starts is anchor 1 in every strategy but `none`. A task without
a demonstration (an expert with no actions) always starts from scratch. `items(batch)` is
computed once per batch (prefetch and collect agree; a crucial measurement redraws it); the
rollback curriculum and the crucial anchors are policy-dependent state, rebuilt from scratch when
a run resumes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rl.resampling import (
    ExpertTrajectory,
    RollbackCurriculum,
    StartState,
    crucial_chunk,
    parallel_starts,
    start_at,
    success_by_anchor,
)

if TYPE_CHECKING:
    from rl.config import RolloutConfig
    from rl.tasks import Episode, Item

RunItems = Callable[[list["Item"], int], list["Episode"]]
"""(items, seed) -> one finished episode per item."""


def scratch(expert: ExpertTrajectory) -> StartState:
    """Anchor 1 of `expert` (no prefix); a task without a demonstration starts plainly."""
    return start_at(expert, 1) if expert.num_chunks else StartState(expert.task_id, 1)


class StartPlanner:
    """The start states of every batch, as `rollout` configures them (see the module doc)."""

    def __init__(self, cfg: RolloutConfig, seed: int, experts: Sequence[ExpertTrajectory]) -> None:
        self.cfg, self.seed = cfg, seed
        self.experts = list(experts)
        self.demos = [e for e in self.experts if e.num_chunks]
        window = cfg.rollback_window or 2 * cfg.group_size
        self.curriculum = RollbackCurriculum(self.demos, cfg.rollback_threshold, window)
        self.crucial: dict[str, int] = {e.task_id: 1 for e in self.demos}
        self._items: dict[int, list[Item]] = {}

    def items(self, batch: int) -> list[Item]:
        """(group id, start) of each episode of `batch`: `starts` states x `group_size`."""
        if batch not in self._items:
            starts = self._starts(random.Random(self.seed * 1_000_003 + batch))
            g = self.cfg.group_size
            self._items = {b: v for b, v in self._items.items() if b >= batch - 1}
            self._items[batch] = [(i, s) for i, s in enumerate(starts) for _ in range(g)]
        return self._items[batch]

    def _starts(self, rng: random.Random) -> list[StartState]:
        mode, n = self.cfg.resample, self.cfg.starts
        if mode == "parallel" and self.demos:
            return parallel_starts(self.demos, n, rng, self.cfg.scratch_frac)
        picks = [self.experts[rng.randrange(len(self.experts))] for _ in range(n)]
        if mode in ("none", "parallel") or not self.demos:
            return [scratch(e) for e in picks]
        out = []
        for e in picks:
            if not e.num_chunks or rng.random() < self.cfg.scratch_frac:
                out.append(scratch(e))
            elif mode == "rollback":
                out.append(start_at(e, self.curriculum.anchor(e.task_id)))
            else:  # crucial
                out.append(start_at(e, self.crucial[e.task_id]))
        return out

    def before_batch(self, batch: int, run: RunItems) -> None:
        """`crucial`: measure success by anchor with the current policy every `crucial_every`
        batches (before the batch's items are drawn) and move each anchor to its crucial chunk."""
        if self.cfg.resample != "crucial" or not self.demos:
            return
        if (batch - 1) % max(self.cfg.crucial_every, 1):
            return
        self._items.pop(batch, None)  # drawn ahead for a prefetch: draw again with new anchors
        episodes = self.cfg.crucial_episodes
        for j, expert in enumerate(self.demos):
            seed = (self.seed * 7919 + batch) * 1000 + 500 + j

            def outcomes(starts: list[StartState], seed: int = seed) -> list[bool]:
                return [e.reward > 0 for e in run([(-1, s) for s in starts], seed)]

            rates = success_by_anchor(outcomes, expert, episodes)
            self.crucial[expert.task_id] = crucial_chunk(rates, expert.reward)[0]

    def record(self, outcomes: Sequence[tuple[StartState, bool]]) -> dict[str, float]:
        """Feed episode outcomes to the rollback curriculum; returns the anchors to log."""
        if self.cfg.resample == "rollback":
            for start, ok in outcomes:
                if start.task_id in self.curriculum.experts:
                    self.curriculum.record(start, ok)
            anchors = [self.curriculum.anchor(e.task_id) for e in self.demos]
        elif self.cfg.resample == "crucial":
            anchors = list(self.crucial.values())
        else:
            return {}
        return {"anchor_mean": sum(anchors) / max(len(anchors), 1)}
