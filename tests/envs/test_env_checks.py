"""Env-wide acceptance checks on the registered ids, with shipped data.

* `gymnasium.utils.env_checker.check_env` on every id in `envs.registration.ENV_IDS` (one
  parametrized test; an id without an entry in `ENV_KWARGS` fails, so new ids get checked).
  ale/SWEBench-v0 and ale/SWEMini-v0 run on the shipped swe-mini data and are skipped, with a
  reason, only while that data has not been generated yet.
* Adversarial actions on a tb-mini task: garbage text, a 1 MB action (malformed, and a valid
  1 MB bash call), an unknown tool, editing outside the workspace, `kill -9 -1`. Each gives a
  clear observation; the env stays usable (the oracle still scores 1 afterwards) or the step
  ends the episode with `info["infra_error"]` set.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers ale/* ids)
from agents.policies.oracle import encoded_command, render_call
from envs.core.env import ChunkEnv
from envs.registration import ENV_IDS
from envs.rock import DEFAULT_IMAGE
from envs.suites.terminal_bench import TB_MINI_TASKS

SWE_MINI_DATA = Path(envs.__file__).resolve().parent / "suites" / "swe_mini" / "data"
SWE_MINI_JSONL = SWE_MINI_DATA / "swe-mini.jsonl"
TB_TASK, HARBOR_TASK = "sales-csv-consolidate", "crack-leaked-hashes"


def _docker_missing() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    probe = subprocess.run(
        ["docker", "image", "inspect", DEFAULT_IMAGE], capture_output=True, text=True, timeout=60
    )
    return (
        None
        if probe.returncode == 0
        else f"{DEFAULT_IMAGE} missing or engine down (run `ale images build`)"
    )


def _needs_swe_mini() -> None:
    if not SWE_MINI_JSONL.is_file():
        pytest.skip(
            f"swe-mini data not generated yet ({SWE_MINI_JSONL} missing; "
            "see envs/suites/swe_mini/build)"
        )


def _swebench_kwargs() -> dict[str, Any]:
    _needs_swe_mini()
    from envs.suites.swebench import SWEBenchSuite

    specs = SWE_MINI_DATA / "specs.json"
    return {
        "suite": SWEBenchSuite(
            SWE_MINI_JSONL,
            repos_dir=SWE_MINI_DATA / "repos",
            specs=specs if specs.is_file() else None,
        )
    }


def _swe_mini_kwargs() -> dict[str, Any]:
    _needs_swe_mini()
    return {}


def _folder_kwargs(kind: str, task_id: str) -> dict[str, Any]:
    """The generic Terminal-Bench / Harbor suite over the shipped task folders, with tb-mini's
    base map: the stand-ins of their published bases start from `ale-base:trixie`, which a fresh
    machine does not have (only the slow image-build test makes it), so without the map this
    check would depend on test order."""
    from envs.suites.terminal_bench import HarborSuite, TerminalBenchSuite
    from envs.suites.terminal_bench.suite import TB_MINI_BASE_MAP

    cls = TerminalBenchSuite if kind == "terminal-bench" else HarborSuite
    return {"suite": cls(TB_MINI_TASKS, task_ids=[task_id], base_image_map=TB_MINI_BASE_MAP)}


#: id -> kwargs for `gymnasium.make` using shipped data (one task each, to bound Docker time).
ENV_KWARGS: dict[str, Callable[[], dict[str, Any]]] = {
    "ale/SWEBench-v0": _swebench_kwargs,
    "ale/SWEMini-v0": _swe_mini_kwargs,
    "ale/TerminalBench-v0": lambda: _folder_kwargs("terminal-bench", TB_TASK),
    "ale/TerminalBenchPro-v0": lambda: _folder_kwargs("harbor", HARBOR_TASK),
    "ale/TBMini-v0": lambda: {"task_ids": [TB_TASK, HARBOR_TASK]},
    "ale/ToyShell-v0": lambda: {},
}
SANDBOXED = {i for i, (entry, _, _) in ENV_IDS.items() if entry == "envs.core.env:ChunkEnv"}


def test_every_registered_id_has_check_kwargs() -> None:
    assert set(ENV_IDS) <= set(ENV_KWARGS), (
        f"add kwargs for {sorted(set(ENV_IDS) - set(ENV_KWARGS))}"
    )


@pytest.mark.parametrize(
    "env_id",
    [
        pytest.param(i, marks=[pytest.mark.docker] if i in SANDBOXED else [])
        for i in sorted(ENV_IDS)
    ],
)
def test_check_env_passes_on_registered_id(env_id: str) -> None:
    if env_id in SANDBOXED and (reason := _docker_missing()):
        pytest.skip(reason)
    kwargs = ENV_KWARGS[env_id]()
    if env_id in SANDBOXED:
        kwargs.setdefault("backend", "docker")
    env = gymnasium.make(env_id, **kwargs)
    try:
        assert env.spec is not None and env.spec.nondeterministic
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()
        env.close()  # safe twice


# ----------------------------------------------------------------------------- adversarial


def bash(command: str) -> str:
    return render_call("bash", {"command": command}, "xml")


def edit(**params: object) -> str:
    body = "".join(f"<parameter={k}>{v}</parameter>\n" for k, v in params.items())
    return f"<function=str_replace_editor>\n{body}</function>"


@pytest.fixture(scope="module")
def tb_env() -> Iterator[ChunkEnv]:
    reason = _docker_missing()
    if reason:
        pytest.skip(reason)
    env = gymnasium.make(
        "ale/TBMini-v0", backend="docker", task_ids=[TB_TASK], max_turns=40
    ).unwrapped
    assert isinstance(env, ChunkEnv)
    env.reset(options={"task_id": TB_TASK})
    yield env
    env.close()


def _still_usable(env: ChunkEnv) -> None:
    obs, _, term, trunc, info = env.step(bash("echo still-$((40 + 2))"))
    assert obs.strip() == "still-42" and not term and not trunc and not info["infra_error"]


ADVERSARIAL = [
    ("garbage", "asdf ;; <<< }{ \x00\x1b[31m no tool call here", "exactly ONE call", True),
    ("one-megabyte-garbage", "x" * 1_000_000, "exactly ONE call", True),
    (
        "unknown-tool",
        "<function=rm_rf_slash>\n<parameter=path>/</parameter>\n</function>",
        "unknown tool",
        True,
    ),
    (
        "edit-outside-workspace",
        edit(command="create", path="/etc/passwd", file_text="pwned"),
        "outside the workspace",
        False,
    ),
    (
        "edit-escape-by-dotdot",
        edit(command="create", path="/app/../etc/shadow", file_text="pwned"),
        "outside the workspace",
        False,
    ),
]


@pytest.mark.docker
@pytest.mark.parametrize(
    ("action", "expected", "format_error"),
    [c[1:] for c in ADVERSARIAL],
    ids=[c[0] for c in ADVERSARIAL],
)
def test_adversarial_action_gets_clear_observation(
    tb_env: ChunkEnv, action: str, expected: str, format_error: bool
) -> None:
    obs, reward, term, trunc, info = tb_env.step(action)
    assert expected in obs, obs[:500]
    assert reward == 0.0 and not term and not trunc and not info["infra_error"]
    assert info["format_error"] is format_error
    assert len(obs.encode()) <= tb_env.limits.max_observation_bytes
    _still_usable(tb_env)


@pytest.mark.docker
def test_outside_edits_left_no_trace(tb_env: ChunkEnv) -> None:
    """Self-contained: makes the outside edits itself, then looks for them."""
    for name, action, expected, _ in ADVERSARIAL:
        if name.startswith("edit-"):
            assert expected in tb_env.step(action)[0]
    obs = tb_env.step(bash("grep -c pwned /etc/passwd /etc/shadow; true"))[0]
    assert "/etc/passwd:0" in obs and "/etc/shadow:0" in obs


@pytest.mark.docker
def test_one_megabyte_bash_command_runs(tb_env: ChunkEnv) -> None:
    obs, _, term, trunc, info = tb_env.step(bash("echo " + "a" * 1_000_000 + " | wc -c"))
    assert obs.strip() == "1000001" and info["exit_code"] == 0 and not term and not trunc
    _still_usable(tb_env)


@pytest.fixture()
def own_tb_env() -> Iterator[ChunkEnv]:
    """A tb-mini env of the test's own (for actions that may end its sandbox)."""
    reason = _docker_missing()
    if reason:
        pytest.skip(reason)
    env = gymnasium.make(
        "ale/TBMini-v0", backend="docker", task_ids=[TB_TASK], max_turns=40
    ).unwrapped
    assert isinstance(env, ChunkEnv)
    env.reset(options={"task_id": TB_TASK})
    yield env
    env.close()


@pytest.mark.docker
def test_kill_everything_then_the_oracle_still_scores(own_tb_env: ChunkEnv) -> None:
    tb_env = own_tb_env
    obs, _, term, trunc, info = tb_env.step(bash("kill -9 -1"))
    if trunc or term:  # the only acceptable way to end here
        assert info["infra_error"], obs
        return
    obs, _, term, trunc, info = tb_env.step(bash("echo alive"))
    assert "alive" in obs or info["infra_error"], obs
    assert tb_env.task is not None
    for command in tb_env.task.oracle_actions():  # type: ignore[attr-defined]
        if "</parameter>" in command:
            command = encoded_command(command)
        assert tb_env.step(bash(command))[4]["exit_code"] == 0
    _, reward, term, _, info = tb_env.step(render_call("submit", {}, "xml"))
    assert term and reward == 1.0 and not info["infra_error"], info.get("grade")
