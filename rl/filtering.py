"""Dynamic filtering: episodes that failed for infrastructure reasons are dropped and
resampled from the same start state, so a sandbox lost to the infrastructure never reads as a
policy failure. A sandbox the agent's own command ended is not infrastructure
(`info["sandbox_lost"] == "agent"`, `infra_error` False): that episode stays, with reward 0,
or a policy would learn to end its sandbox instead of failing. An episode whose task is
broken (`info["task_error"]`: e.g. a test patch that does not apply at the base commit) carries
no signal either: it is dropped and not rerun (a rerun would fail the same way)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

S = TypeVar("S")
E = TypeVar("E")


def has_infra_error(infos: Iterable[Mapping[str, Any]]) -> bool:
    """True when any step's `info["infra_error"]` is truthy."""
    return any(bool(info.get("infra_error", False)) for info in infos)


def has_task_error(infos: Iterable[Mapping[str, Any]]) -> bool:
    """True when any step's `info["task_error"]` is truthy (the task could not be graded)."""
    return any(bool(info.get("task_error", False)) for info in infos)


@dataclass
class FilterStats:
    """Counts of one filtered collection (episodes, not steps)."""

    requested: int = 0
    """Start states asked for."""
    kept: int = 0
    """Clean episodes returned."""
    dropped: int = 0
    """Episodes discarded for an infra error."""
    resampled: int = 0
    """Extra episodes launched to replace dropped ones."""
    gave_up: int = 0
    """Start states with no clean episode after `max_retries` reruns."""
    broken: int = 0
    """Episodes discarded, not rerun, because their task is broken."""

    def add(self, other: FilterStats) -> None:
        """Accumulate `other` into these counts."""
        for name in ("requested", "kept", "dropped", "resampled", "gave_up", "broken"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Filtered(Generic[S, E]):
    """Clean (start, episode) pairs in the order of the requested starts, and the counts."""

    episodes: list[tuple[S, E]]
    stats: FilterStats


def collect_filtered(
    rollout: Callable[[list[S]], list[E]],
    starts: Sequence[S],
    failed: Callable[[E], bool],
    max_retries: int = 3,
    broken: Callable[[E], bool] | None = None,
) -> Filtered[S, E]:
    """Run `rollout` on `starts` (one batch per round); rerun the starts whose episode `failed`
    from the same start state, up to `max_retries` extra rounds. Episodes for which `broken`
    holds are dropped and never rerun (`stats.broken`).

    `rollout` maps a list of start states to one episode each, in order.
    """
    stats = FilterStats(requested=len(starts))
    done: dict[int, E] = {}
    pending = list(range(len(starts)))
    for round_ in range(max_retries + 1):
        if not pending:
            break
        if round_ > 0:
            stats.resampled += len(pending)
        episodes = rollout([starts[i] for i in pending])
        if len(episodes) != len(pending):
            raise ValueError(f"rollout returned {len(episodes)} episodes for {len(pending)} starts")
        retry = []
        for i, episode in zip(pending, episodes, strict=True):
            if broken is not None and broken(episode):
                stats.broken += 1
            elif failed(episode):
                stats.dropped += 1
                retry.append(i)
            else:
                done[i] = episode
        pending = retry
    stats.gave_up = len(pending)
    stats.kept = len(done)
    return Filtered([(starts[i], done[i]) for i in sorted(done)], stats)
