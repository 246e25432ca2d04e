"""The toy shell env: Gymnasium contract, replay option, infra-error injection."""

from __future__ import annotations

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ale/ ids)
from envs.toy import VOCAB, ToyShellEnv, expert_actions, task_ids

REQUIRED_INFO = {"chunk_index", "tool", "exit_code", "duration_s", "sandbox_id", "infra_error"}


def test_registered_and_passes_check_env() -> None:
    env = gymnasium.make("ale/ToyShell-v0")
    check_env(env.unwrapped, skip_render_check=False)
    env.close()
    env.close()  # safe twice


def test_expert_solves_every_task_with_step_info() -> None:
    env = ToyShellEnv()
    for task in task_ids():
        obs, info = env.reset(seed=0, options={"task_id": task})
        assert info["task_id"] == task and task.split("-")[0] in obs
        for k, action in enumerate(expert_actions(task)):
            obs, reward, terminated, truncated, info = env.step(action)
            assert info.keys() >= REQUIRED_INFO
            assert info["chunk_index"] == k and info["sandbox_id"] == "toy"
            assert info["infra_error"] is False and isinstance(info["duration_s"], float)
        assert (reward, terminated, truncated) == (1.0, True, False)
        assert all(w in VOCAB for w in obs.split())


def test_reward_only_at_the_end_and_truncation() -> None:
    env = ToyShellEnv(max_turns=3)
    env.reset(options={"task_id": "beta-io"})
    results = [env.step(a) for a in ("cd beta", "edit main", "rm -rf /")]
    assert [r[1] for r in results] == [0.0, 0.0, 0.0]
    assert results[-1][3] is True and results[-1][2] is False
    assert results[-1][4]["tool"] == "none" and results[-1][4]["exit_code"] == 127
    with pytest.raises(RuntimeError, match="reset"):
        env.step("test")


def test_wrong_edit_breaks_a_good_file() -> None:
    env = ToyShellEnv()
    env.reset(options={"task_id": "beta-io"})
    for action in ("cd beta", "edit main", "edit io"):
        env.step(action)
    assert env.step("test")[0] == "tests FAIL in main"


def test_replay_hands_control_at_the_next_chunk() -> None:
    env = ToyShellEnv()
    actions = expert_actions("gamma-core")
    obs, info = env.reset(options={"task_id": "gamma-core", "replay": actions[:3]})
    assert obs == "edited core"
    assert [s["action"] for s in info["replayed"]] == actions[:3]
    assert info["replayed"][1]["observation"] == "tests FAIL in core"
    assert info["chunk_index"] == 3
    obs, reward, terminated, _, step_info = env.step(actions[3])
    assert (obs, reward, terminated, step_info["chunk_index"]) == ("tests PASS", 1.0, True, 3)


def test_replay_of_a_whole_episode_is_refused() -> None:
    env = ToyShellEnv()
    with pytest.raises(ValueError, match="K-1"):
        env.reset(options={"task_id": "alpha-io", "replay": expert_actions("alpha-io")})
    with pytest.raises(ValueError, match="task_ids"):
        env.reset(options={"task_id": "omega-io"})


def test_infra_errors_are_injected_and_flagged() -> None:
    env = ToyShellEnv(infra_error_rate=1.0)
    env.reset(seed=0, options={"task_id": "alpha-main", "replay": ["cd alpha"]})  # replay is safe
    obs, reward, terminated, truncated, info = env.step("test")
    assert info["infra_error"] is True and truncated and not terminated and reward == 0.0
    assert "infra" in obs
    with pytest.raises(ValueError, match="infra_error_rate"):
        ToyShellEnv(infra_error_rate=1.5)
