"""ChunkEnv mechanics on a real sandbox: tools, formats, limits, replay, abuse (prefetch and
concurrent slots: `tests/rl/test_workers_sandbox.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers ale/* ids)
from envs.core.env import ChunkEnv
from tests.conftest import backend_params
from tests.envs.conftest import SECRET_TEST, AnswerSuite


def bash(cmd: str) -> str:
    return f"<function=bash>\n<parameter=command>{cmd}</parameter>\n</function>"


def edit(**params: object) -> str:
    body = "".join(f"<parameter={k}>{v}</parameter>\n" for k, v in params.items())
    return f"<function=str_replace_editor>\n{body}</function>"


SUBMIT = "<function=submit>\n</function>"


@pytest.fixture(params=backend_params(), scope="module")
def env(request: pytest.FixtureRequest) -> Iterator[ChunkEnv]:
    # through the registry, so the env carries its spec (nondeterministic=True)
    e = gymnasium.make(
        "ale/SWEMini-v0", suite=AnswerSuite(), backend=request.param, max_turns=12
    ).unwrapped
    assert isinstance(e, ChunkEnv)
    yield e
    e.close()


def test_solve_by_bash_and_submit(env: ChunkEnv) -> None:
    obs, info = env.reset(options={"task_id": "six-by-seven"})
    assert "six-by-seven" in obs and info["task_id"] == "six-by-seven"
    assert {t["function"]["name"] for t in info["tools"]} == {
        "bash",
        "str_replace_editor",
        "submit",
    }
    obs, r, term, trunc, info = env.step(
        "Thinking...\n" + bash("cd /work && echo 42 > answer.txt && ls")
    )
    assert "answer.txt" in obs and r == 0.0 and not term and not trunc
    assert info["chunk_index"] == 1 and info["tool"] == "bash" and info["exit_code"] == 0
    assert info["sandbox_id"] and not info["infra_error"] and info["duration_s"] >= 0
    obs, r, term, trunc, info = env.step(SUBMIT)
    assert term and not trunc and r == 1.0 and info["grade"]["tests"] == {"answer": "PASSED"}


def test_editor_create_replace_insert_view_undo(env: ChunkEnv) -> None:
    env.reset(options={"task_id": "two-cubed"})
    assert "created" in env.step(edit(command="create", path="/work/answer.txt", file_text="7"))[0]
    obs = env.step(edit(command="str_replace", path="/work/answer.txt", old_str="7", new_str="8"))[
        0
    ]
    assert "has been edited" in obs and "8" in obs
    env.step(edit(command="insert", path="/work/answer.txt", insert_line=1, new_str="extra"))
    obs = env.step(edit(command="view", path="/work/answer.txt"))[0]
    assert "     1\t8\n     2\textra" in obs
    assert "undone" in env.step(edit(command="undo_edit", path="/work/answer.txt"))[0]
    listing = env.step(edit(command="view", path="/work"))[0]
    assert "/work/answer.txt" in listing
    _, r, term, _, _ = env.step(SUBMIT)
    assert term and r == 1.0


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("garbage text with no call", "exactly ONE call"),
        ("x" * 1_000_000, "exactly ONE call"),
        ("<function=launch_missiles>\n</function>", "unknown tool"),
        (edit(command="create", path="/etc/passwd", file_text="pwned"), "outside the workspace"),
        (edit(command="view", path="relative.txt"), "not absolute"),
        (
            edit(command="str_replace", path="/work/README.md", old_str="nope", new_str="x"),
            "did not appear",
        ),
        (edit(command="teleport", path="/work/README.md"), "unknown command"),
        # issue 13, item 7: text that cannot be passed on is an error observation, not a crash
        (bash("echo \ud800"), "lone surrogate"),
        (bash("echo visible\x00; touch /work/cut"), "NUL byte"),
        (edit(command="view", path="/work/READ\x00ME.md"), "NUL byte"),
        (edit(command="create", path="/work/u.txt", file_text="\udcff\ud800"), "lone surrogate"),
    ],
)
def test_adversarial_actions_get_clear_observations(
    env: ChunkEnv, action: str, expected: str
) -> None:
    env.reset(options={"task_id": "six-by-seven"})
    obs, r, term, trunc, info = env.step(action)
    assert expected in obs and r == 0.0 and not term and not trunc
    assert env.step(bash("echo still-usable"))[0].strip() == "still-usable"


def test_kill_everything_leaves_env_usable_or_flags_infra(env: ChunkEnv) -> None:
    env.reset(options={"task_id": "six-by-seven"})
    obs, _, term, trunc, info = env.step(bash("kill -9 -1"))
    if trunc:
        assert info["infra_error"]
    else:
        nxt = env.step(bash("echo alive"))
        assert "alive" in nxt[0] or nxt[4]["infra_error"]


def test_turn_limit_truncates_and_grades(env: ChunkEnv) -> None:
    env.reset(options={"task_id": "six-by-seven"})
    env.step(bash("echo 42 > /work/answer.txt"))
    for _ in range(10):
        env.step(bash("true"))
    obs, r, term, trunc, info = env.step(bash("true"))
    assert trunc and not term and info["truncation"] == "max_turns" and r == 1.0


def test_hidden_tests_are_not_visible_during_episode(env: ChunkEnv) -> None:
    env.reset(options={"task_id": "six-by-seven"})
    obs = env.step(
        bash(
            f"grep -rl {SECRET_TEST} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head -3; echo done"
        )
    )[0]
    assert obs.strip() == "done"


def test_replay_hands_control_at_next_chunk(env: ChunkEnv) -> None:
    obs, info = env.reset(
        options={
            "task_id": "six-by-seven",
            "replay": [bash("cd /work && echo 4 > answer.txt"), bash("echo 2 >> answer.txt")],
        }
    )
    assert [s["exit_code"] for s in info["replayed"]] == [0, 0]
    assert env.step(bash("pwd; cat answer.txt"))[4]["chunk_index"] == 3
    obs = env.step(bash("tr -d '\\n' < answer.txt > a && mv a answer.txt && cat answer.txt"))[0]
    assert obs.strip() == "42"


def test_check_env_passes(env: ChunkEnv) -> None:
    check_env(env, skip_render_check=True)
