"""Env workers over real sandboxes: the one prefetch mechanism (a spare env per slot, reset in
the background) and slots stepped concurrently, on `ChunkEnv`s of a two-task suite."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from envs.core.env import ChunkEnv
from envs.rock import SandboxError
from rl.workers import EnvSpec, EnvWorker
from tests.conftest import backend_params
from tests.envs.conftest import AnswerSuite

SUBMIT = "<function=submit>\n</function>"
SIX = {"task_id": "six-by-seven"}
TWO = {"task_id": "two-cubed"}


def bash(cmd: str) -> str:
    return f"<function=bash>\n<parameter=command>{cmd}</parameter>\n</function>"


def worker(backend: str, n_envs: int) -> EnvWorker:
    return EnvWorker(
        EnvSpec("ale/SWEMini-v0", (("suite", AnswerSuite()), ("backend", backend))), n_envs
    )


def chunk_env(w: EnvWorker, slot: int) -> ChunkEnv:
    env = w.envs[slot]
    assert isinstance(env, ChunkEnv)
    return env


@pytest.mark.parametrize("backend", backend_params())
def test_prefetch_prepares_the_next_task_while_the_episode_runs(backend: str) -> None:
    w = worker(backend, 1)
    try:
        [(_, info)] = w.reset_many([(0, SIX, None)])
        assert info["prefetched"] is False
        first = info["sandbox_id"]
        w.prefetch([(0, TWO, None)])  # two-cubed's sandbox starts while six-by-seven runs
        [(obs, *_)] = w.step_many([(0, bash("echo 42 > answer.txt; cat answer.txt"))])
        assert obs.strip() == "42"
        assert w.step_many([(0, SUBMIT)])[0][1] == 1.0  # the running episode was untouched
        [(_, info)] = w.reset_many([(0, TWO, None)])
        assert info["task_id"] == "two-cubed" and info["prefetched"] is True
        assert info["sandbox_id"] != first
        assert w.step_many([(0, bash("cat /work/README.md"))])[0][0].startswith("Put")
        # a prefetch for another task is not used by a reset into a different one
        w.prefetch([(0, TWO, None)])
        [(_, info)] = w.reset_many([(0, SIX, None)])
        assert info["task_id"] == "six-by-seven" and info["prefetched"] is False
        assert w.get_stats() == {"resets": 4, "prefetch_hits": 1, "steps": 3}
    finally:
        w.close()


@pytest.mark.docker
def test_slots_step_concurrently() -> None:
    """Slot 0's step waits for a file only the test writes; slot 1's step, sent in the same
    `step_many`, finishes meanwhile (its answer file appears while slot 0 still waits)."""
    w = worker("docker", 2)
    try:
        resets = w.reset_many([(0, SIX, None), (1, TWO, None)])
        assert len({info["sandbox_id"] for _, info in resets}) == 2
        gate = "i=0; while [ ! -e /tmp/go ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done"
        out: list[Any] = []
        both = threading.Thread(
            target=lambda: out.extend(
                w.step_many([(0, bash(f"{gate}; echo 42 > answer.txt")), (1, bash("echo 8 > a"))])
            )
        )
        both.start()
        fast, slow = chunk_env(w, 1).sandbox, chunk_env(w, 0).sandbox
        assert fast is not None and slow is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if fast.read("/work/a") == b"8\n":
                    break
            except SandboxError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("slot 1's step did not run while slot 0's step waited")
        assert both.is_alive()  # slot 0 still waits for its gate
        slow.write("/tmp/go", b"")
        both.join(timeout=120)
        assert not both.is_alive() and [o[4]["exit_code"] for o in out] == [0, 0]
        rewards = [o[1] for o in w.step_many([(0, SUBMIT), (1, SUBMIT)])]
        assert rewards == [1.0, 0.0]  # slot 1 wrote its answer to the wrong file
    finally:
        w.close()
