"""Chunk-level initialized resampling from expert trajectories (paper 3.2.4), as plain Python.

An episode "anchored at chunk k" (1-based, 1 <= k <= K) starts from the state the expert
reached after its first k-1 chunks: the env replays them (`reset(options={"task_id": t,
"replay": actions[:k-1]})`) and hands control at chunk k. Anchor 1 is an ordinary episode.
`PrefixCache` replays a prefix once, snapshots the env, and restores the snapshot for later
episodes from the same start state (sandbox envs: a filesystem snapshot).
Nothing here knows about sandboxes: any env with that reset option works.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, SupportsFloat, cast


class ReplayEnv(Protocol):
    """What resampling needs from an env: Gymnasium's reset/step with the `replay` option."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]: ...

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]: ...


@dataclass(frozen=True)
class ExpertTrajectory:
    """A successful demonstration: the task and its K actions (one per chunk)."""

    task_id: str
    actions: tuple[str, ...]
    reward: float = 1.0

    @property
    def num_chunks(self) -> int:
        """K."""
        return len(self.actions)


@dataclass(frozen=True)
class StartState:
    """Where an episode starts: the task and the expert actions to replay (anchor - 1 of them)."""

    task_id: str
    anchor: int
    replay: tuple[str, ...] = ()
    expert_len: int = 0
    """K of the expert the prefix comes from (0: no expert)."""
    expert_reward: float = 1.0

    def options(self) -> dict[str, Any]:
        """The `reset` options that reproduce this start state."""
        return {"task_id": self.task_id, "replay": list(self.replay)}


def start_at(expert: ExpertTrajectory, anchor: int) -> StartState:
    """Start state for `anchor` in 1..K: replay the expert's first anchor-1 actions."""
    if not 1 <= anchor <= expert.num_chunks:
        raise ValueError(
            f"anchor must be in 1..{expert.num_chunks} for {expert.task_id!r}, got {anchor}"
        )
    return StartState(
        expert.task_id, anchor, expert.actions[: anchor - 1], expert.num_chunks, expert.reward
    )


def reset_at(
    env: ReplayEnv, start: StartState, seed: int | None = None
) -> tuple[Any, dict[str, Any]]:
    """Reset `env` into `start` (the env replays the prefix)."""
    return env.reset(seed=seed, options=start.options())


class SnapshotEnv(ReplayEnv, Protocol):
    """An env that can also save its state after a reset and go back to it."""

    def snapshot(self) -> Any: ...

    def restore(self, snap: Any) -> tuple[Any, dict[str, Any]]:
        """Return to `snap`; returns what the `reset` that preceded `snapshot` returned."""
        ...


class PrefixCache:
    """Start states by snapshot restore instead of replay.

    The first episode from a start state (task, replayed prefix) resets with replay and then
    snapshots the env; later ones call `env.restore(snapshot)`, which runs no command. Envs
    without `snapshot`/`restore`, and anchor-1 starts (nothing to replay), always reset.
    Snapshots must be restorable into any env of the same kind (true for the toy env; for
    sandboxes, one image per task). Oldest entries are evicted past `max_entries`.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._snaps: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.replays = 0
        """Resets that replayed a prefix (and took a snapshot)."""
        self.restores = 0
        """Episodes started from a snapshot."""

    def reset(
        self, env: ReplayEnv, start: StartState, seed: int | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Put `env` in `start`, restoring a snapshot when one exists."""
        if not start.replay or not (hasattr(env, "snapshot") and hasattr(env, "restore")):
            return reset_at(env, start, seed)
        senv = cast(SnapshotEnv, env)
        key = (start.task_id, start.replay)
        with self._lock:
            snap = self._snaps.get(key)
            if snap is not None:
                self.restores += 1
        if snap is not None:
            return senv.restore(snap)
        out = reset_at(env, start, seed)
        taken = senv.snapshot()
        with self._lock:
            if len(self._snaps) >= self.max_entries:
                del self._snaps[next(iter(self._snaps))]
            self._snaps[key] = taken
            self.replays += 1
        return out


def parallel_starts(
    experts: Sequence[ExpertTrajectory], n: int, rng: random.Random, scratch_frac: float = 0.0
) -> list[StartState]:
    """Parallelized initialization: `n` start states in one batch, experts drawn uniformly and
    anchors uniformly in 1..K; a `scratch_frac` share is forced to anchor 1 (no prefix)."""
    starts = []
    for _ in range(n):
        expert = experts[rng.randrange(len(experts))]
        anchor = 1 if rng.random() < scratch_frac else rng.randint(1, expert.num_chunks)
        starts.append(start_at(expert, anchor))
    return starts


class RollbackCurriculum:
    """Sequential rollback: each expert's anchor starts at its last chunk K and moves back by one
    once the success rate of the last `window` episodes at the current anchor is >= `threshold`.
    """

    def __init__(
        self, experts: Sequence[ExpertTrajectory], threshold: float = 0.8, window: int = 16
    ) -> None:
        if not 0.0 < threshold <= 1.0 or window < 1:
            raise ValueError("threshold must be in (0, 1] and window >= 1")
        self.experts = {e.task_id: e for e in experts}
        self.threshold, self.window = threshold, window
        self._anchor = {e.task_id: e.num_chunks for e in experts}
        self._recent: dict[str, deque[bool]] = {e.task_id: deque(maxlen=window) for e in experts}

    def anchor(self, task_id: str) -> int:
        """Current anchor of the expert for `task_id`."""
        return self._anchor[task_id]

    def starts(self, per_task: int) -> list[StartState]:
        """`per_task` copies of every expert's current start state."""
        return [
            start_at(self.experts[t], a) for t, a in self._anchor.items() for _ in range(per_task)
        ]

    def record(self, start: StartState, success: bool) -> bool:
        """Count an episode's outcome; returns True when that expert's anchor moved back.
        Episodes from an anchor other than the current one are ignored."""
        task = start.task_id
        if start.anchor != self._anchor[task]:
            return False
        recent = self._recent[task]
        recent.append(success)
        if (
            self._anchor[task] > 1
            and len(recent) == self.window
            and (sum(recent) / self.window >= self.threshold)
        ):
            self._anchor[task] -= 1
            recent.clear()
            return True
        return False

    @property
    def finished(self) -> bool:
        """Every anchor is back at chunk 1 (episodes start from scratch)."""
        return all(a == 1 for a in self._anchor.values())


def success_by_anchor(
    run: Callable[[list[StartState]], list[bool]], expert: ExpertTrajectory, episodes: int
) -> dict[int, float]:
    """Success rate of `run` from every anchor 1..K of `expert` (`episodes` each, one batch)."""
    starts = [start_at(expert, k) for k in range(1, expert.num_chunks + 1) for _ in range(episodes)]
    outcomes = run(starts)
    if len(outcomes) != len(starts):
        raise ValueError(f"run returned {len(outcomes)} outcomes for {len(starts)} starts")
    rates: dict[int, float] = {}
    for start, ok in zip(starts, outcomes, strict=True):
        rates[start.anchor] = rates.get(start.anchor, 0.0) + float(ok) / episodes
    return rates


def crucial_chunk(
    success: Mapping[int, float], expert_success: float = 1.0
) -> tuple[int, dict[int, float]]:
    """The chunk whose hand-over costs the most success, and every chunk's drop.

    drop_k = s(k+1) - s(k), with s(k) the success rate from anchor k and s(K+1) = the expert's
    own success (its full replay). The crucial chunk is argmax_k drop_k (ties: the later chunk).
    """
    if not success:
        raise ValueError("need success rates for at least one anchor")
    last = max(success)
    drops = {
        k: (success.get(k + 1, expert_success) if k < last else expert_success) - success[k]
        for k in sorted(success)
    }
    crucial = max(sorted(drops, reverse=True), key=lambda k: drops[k])
    return crucial, drops
