"""Expert-prefix resampling (pure logic) and infra-error filtering, on the toy env."""

from __future__ import annotations

import random
from typing import Any, SupportsFloat

import pytest

from envs.toy import ToyShellEnv, expert_actions
from rl.filtering import collect_filtered, has_infra_error, has_task_error
from rl.resampling import (
    ExpertTrajectory,
    PrefixCache,
    RollbackCurriculum,
    StartState,
    crucial_chunk,
    parallel_starts,
    reset_at,
    start_at,
    success_by_anchor,
)

EXPERT = ExpertTrajectory("delta-util", tuple(expert_actions("delta-util")))


def test_start_at_replays_k_minus_one_chunks() -> None:
    s = start_at(EXPERT, 3)
    assert s.replay == ("cd delta", "test") and s.expert_len == 4
    obs, info = reset_at(ToyShellEnv(), s)
    assert obs == "tests FAIL in util" and len(info["replayed"]) == 2
    assert start_at(EXPERT, 1).replay == ()
    with pytest.raises(ValueError, match="1..4"):
        start_at(EXPERT, 5)


def test_parallel_starts_cover_every_anchor_in_one_batch() -> None:
    starts = parallel_starts([EXPERT], 400, random.Random(0))
    assert {s.anchor for s in starts} == {1, 2, 3, 4}
    scratch = parallel_starts([EXPERT], 400, random.Random(0), scratch_frac=1.0)
    assert {s.anchor for s in scratch} == {1}


def test_rollback_moves_anchor_back_when_success_reaches_threshold() -> None:
    cur = RollbackCurriculum([EXPERT], threshold=0.75, window=4)
    assert cur.anchor("delta-util") == 4
    start = cur.starts(1)[0]
    for ok in (True, False, True):
        assert not cur.record(start, ok)
    assert cur.record(start, True)  # 3 of the last 4 = 0.75
    assert cur.anchor("delta-util") == 3
    assert not cur.record(start, True)  # an outcome from the old anchor is ignored
    for _ in range(2):
        for _ in range(4):
            cur.record(cur.starts(1)[0], True)
    assert cur.anchor("delta-util") == 1 and cur.finished


def scripted_run(starts: list[StartState]) -> list[bool]:
    """A policy that does chunks 1, 2 and 4 right but edits the wrong file at chunk 3."""
    out = []
    for s in starts:
        env = ToyShellEnv()
        reset_at(env, s)
        done, reward = False, 0.0
        for k in range(s.anchor - 1, 4):
            action = "edit main" if k == 2 else EXPERT.actions[k]
            _, r, term, trunc, _ = env.step(action)
            reward, done = float(r), term or trunc
            if done:
                break
        out.append(reward > 0)
    return out


def test_crucial_chunk_is_where_success_drops_most() -> None:
    rates = success_by_anchor(scripted_run, EXPERT, episodes=2)
    assert rates == {1: 0.0, 2: 0.0, 3: 0.0, 4: 1.0}
    chunk, drops = crucial_chunk(rates)
    assert chunk == 3 and drops == {1: 0.0, 2: 0.0, 3: 1.0, 4: 0.0}
    # by hand: s = [0.2, 0.5, 0.6, 0.9], s(5) = 1 -> drops [0.3, 0.1, 0.3, 0.1]; tie -> later
    assert crucial_chunk({1: 0.2, 2: 0.5, 3: 0.6, 4: 0.9})[0] == 3


def test_filtering_counts_with_a_scripted_rollout() -> None:
    failures = {"a": 2, "b": 0, "c": 9}  # how many times each start fails before succeeding

    def rollout(starts: list[str]) -> list[tuple[str, bool]]:
        out = []
        for s in starts:
            failures[s] -= 1
            out.append((s, failures[s] >= 0))
        return out

    got = collect_filtered(rollout, ["a", "b", "c"], lambda e: e[1], max_retries=3)
    assert [s for s, _ in got.episodes] == ["a", "b"]
    st = got.stats
    # rounds: [a x, b ok, c x] -> [a x, c x] -> [a ok, c x] -> [c x]: 6 dropped, 5 reruns
    assert (st.requested, st.kept, st.dropped, st.resampled, st.gave_up) == (3, 2, 6, 5, 1)
    assert st.resampled == st.dropped - st.gave_up


def test_broken_tasks_are_dropped_never_rerun() -> None:
    calls: list[str] = []

    def rollout(starts: list[str]) -> list[dict[str, bool]]:
        calls.extend(starts)
        return [
            {"infra_error": s == "i" and calls.count("i") == 1, "task_error": s == "t"}
            for s in starts
        ]

    got = collect_filtered(
        rollout,
        ["ok", "t", "i"],
        lambda e: has_infra_error([e]),
        max_retries=3,
        broken=lambda e: has_task_error([e]),
    )
    assert len(got.episodes) == 2 and calls == ["ok", "t", "i", "i"]  # t ran once, i twice
    st = got.stats
    assert (st.kept, st.broken, st.dropped, st.resampled, st.gave_up) == (2, 1, 1, 1, 0)


def test_filtering_drops_and_resamples_infra_failures_of_the_toy_env() -> None:
    env = ToyShellEnv(infra_error_rate=0.3)
    env.reset(seed=0)
    starts = [start_at(EXPERT, 1 + i % 4) for i in range(40)]

    def rollout(batch: list[StartState]) -> list[tuple[StartState, list[dict[str, object]], float]]:
        out = []
        for s in batch:
            reset_at(env, s)
            infos, reward = [], 0.0
            for action in EXPERT.actions[s.anchor - 1 :]:
                _, r, term, trunc, info = env.step(action)
                infos.append(info)
                reward += float(r)
                if term or trunc:
                    break
            out.append((s, infos, reward))
        return out

    got = collect_filtered(rollout, starts, lambda e: has_infra_error(e[1]), max_retries=20)
    st = got.stats
    assert st.dropped > 0 and st.gave_up == 0 and st.kept == 40
    assert st.resampled == st.dropped  # every dropped episode was rerun (none given up)
    for start, (same_start, infos, reward) in got.episodes:
        assert start is same_start and not has_infra_error(infos) and reward == 1.0


def test_prefix_cache_restores_a_snapshot_instead_of_replaying() -> None:
    cache = PrefixCache()
    start = start_at(EXPERT, 3)
    replayed_env, restored_env = ToyShellEnv(), ToyShellEnv()
    obs1, info1 = cache.reset(replayed_env, start)
    assert (cache.replays, cache.restores, replayed_env.commands_run) == (1, 0, 2)
    obs2, info2 = cache.reset(restored_env, start)
    # the second env ran no command, yet starts in the same state with the same reset info
    assert (cache.replays, cache.restores, restored_env.commands_run) == (1, 1, 0)
    assert (obs2, info2) == (obs1, info1) and info2["replayed"][1]["observation"] == obs1
    for env in (replayed_env, restored_env):
        results = [env.step(a) for a in EXPERT.actions[2:]]
        assert [r[1] for r in results] == [0.0, 1.0] and results[-1][4]["chunk_index"] == 3
    # a restored env is independent of the snapshot: restoring again starts over
    obs3, _ = cache.reset(restored_env, start)
    assert obs3 == obs1 and restored_env.step("test")[0] == "tests FAIL in util"
    # anchor 1 has nothing to replay: an ordinary reset, nothing cached
    cache.reset(ToyShellEnv(), start_at(EXPERT, 1))
    assert (cache.replays, cache.restores) == (1, 2)


def test_prefix_cache_falls_back_to_replay_without_snapshots() -> None:
    class ReplayOnly:
        def __init__(self) -> None:
            self.env = ToyShellEnv()
            self.resets = 0

        def reset(
            self, *, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[Any, dict[str, Any]]:
            self.resets += 1
            return self.env.reset(seed=seed, options=options)

        def step(self, action: str) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
            return self.env.step(action)

    cache, env = PrefixCache(max_entries=1), ReplayOnly()
    for _ in range(3):
        assert cache.reset(env, start_at(EXPERT, 2))[0] == "ok"
    assert env.resets == 3 and (cache.replays, cache.restores) == (0, 0)
    with pytest.raises(ValueError, match="max_entries"):
        PrefixCache(max_entries=0)


def test_prefix_cache_evicts_oldest_entry() -> None:
    cache, env = PrefixCache(max_entries=2), ToyShellEnv()
    for anchor in (2, 3, 4, 2):
        cache.reset(env, start_at(EXPERT, anchor))
    assert cache.replays == 4 and cache.restores == 0  # anchor 2 was evicted by anchor 4
    cache.reset(env, start_at(EXPERT, 4))
    assert cache.restores == 1
