"""A policy that ends its own sandbox fails like any other, with reward 0 and no retry, and RL
keeps its episode (issue 13, item 1). Both backends, real sandboxes, the `answers` suite."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from agents.config import AgentConfig
from agents.policies import PolicyOutput
from bench.harness import run_bench
from bench.runners import AgentRunner
from bench.store import AttemptResult, RunStore
from bench.tasks import RUN_LABEL, BenchSuite
from rl.filtering import has_infra_error
from tests.bench.fixture_suites import NumberSuite
from tests.conftest import backend_params

SIGNALS = "TERM HUP INT USR1 USR2 ALRM QUIT PIPE"


class Script:
    """Plays bash actions, then submits; `on_act(turn)` runs before each turn is returned."""

    name = "script"

    def __init__(self, commands: list[str], on_act: Any = None) -> None:
        self.commands, self.on_act, self.turn = commands, on_act, 0

    def start_episode(self, context: Any) -> None:
        self.turn = 0

    def act(self, messages: list[dict[str, Any]], tools: Any = None) -> PolicyOutput:
        if self.on_act is not None:
            self.on_act(self.turn)
        command = self.commands[self.turn] if self.turn < len(self.commands) else "submit"
        self.turn += 1
        return PolicyOutput(text=f"```bash\n{command}\n```")


def run(tmp_path: Path, backend: str, policy: Script) -> tuple[AttemptResult, list[dict[str, Any]]]:
    runner = AgentRunner(
        BenchSuite(NumberSuite(1), {RUN_LABEL: f"test-lost-{tmp_path.name}"}),
        AgentConfig.load("terminal"),
        lambda: policy,
        backend=backend,
    )
    store = RunStore(tmp_path)
    try:
        run_bench(
            store,
            ["number-00"],
            runner,
            "m",
            workers=1,
            show_progress=False,
            collect_orphans=False,
        )
    finally:
        runner.close()
    (result,) = store.results()
    lines = store.trajectory_path("number-00", 0).read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    infos = [r["info"] for r in rows if r.get("type") == "chunk"]
    (end,) = [r for r in rows if r.get("type") == "end"]
    assert end["reward"] == 0.0 or result.resolved
    return result, infos


@pytest.mark.parametrize("backend", backend_params())
def test_kill_1_gets_reward_0_and_no_retry(tmp_path: Path, backend: str) -> None:
    kill = f"for s in {SIGNALS}; do kill -$s 1; done; kill -9 1; echo still-here"
    policy = Script([kill, "sleep 1; echo alive-a-turn-later"])
    result, infos = run(tmp_path, backend, policy)
    assert result.status == "unresolved" and result.reward == 0.0, result
    assert result.infra_retries == 0
    assert [i["tool"] for i in infos] == ["bash", "bash", "submit"]  # the sandbox lived on
    assert not has_infra_error(infos) and not any(i.get("sandbox_lost") for i in infos)


@pytest.mark.parametrize("backend", backend_params())
def test_sandbox_dying_in_the_agents_command_is_the_agents_failure(
    tmp_path: Path, backend: str
) -> None:
    run_id = f"test-lost-{tmp_path.name}"

    def kill_soon(turn: int) -> None:
        if turn == 0:  # while the agent's `sleep 60` runs, as an escape from inside would
            threading.Timer(1.5, kill_run_sandbox, args=(run_id,)).start()

    result, infos = run(tmp_path, backend, Script(["sleep 60"], on_act=kill_soon))
    assert result.status == "unresolved" and result.infra_retries == 0, result
    assert "ended its sandbox" in (result.error or "")
    last = infos[-1]
    assert last["sandbox_lost"] == "agent" and last["infra_error"] is False
    assert last["chunk_index"] == 1  # the episode ended with the agent's command
    assert not has_infra_error(infos)  # rl.filtering keeps it: a zero-reward episode


def kill_run_sandbox(run_id: str) -> None:
    from envs.rock.gc import list_all

    for record in list_all():
        if record.labels.get(RUN_LABEL) != run_id:
            continue
        if record.backend == "docker":
            from envs.rock.docker_backend import client

            client().containers.get(record.id).kill()
        else:
            import os

            from envs.rock.local_backend import LocalSandbox

            os.kill(LocalSandbox.attach(record.id)._init_pid, signal.SIGKILL)
