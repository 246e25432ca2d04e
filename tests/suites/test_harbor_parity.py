"""Parity with Harbor itself: our guard against drifting from the published format.

* Every Harbor-format tb-mini task is run by Harbor's own trial runner (its oracle and `nop`
  agents, its verifier) against the same local image ALE-Gym builds, and by ALE-Gym (oracle,
  empty): the rewards must be identical, with and without the solution.
* Every Terminal-Bench tb-mini task is converted by Harbor's own mapper
  (`harbor.mappers.terminal_bench`), and ALE-Gym must run the converted folders unchanged:
  no unknown keys, oracle 1, empty 0, as on the originals. A task the mapper refuses must be
  one it says it refuses (`solution.yaml`).

Harbor needs Python >= 3.12; the test looks for such an interpreter (`python3.13`,
`python3.12` on PATH, pyenv's), installs `harbor==HARBOR_VERSION` into a cached virtualenv,
and skips with the reason when it cannot. Harbor's compose tasks need `docker compose`,
which these machines lack: stock-service-lookup is run by ALE-Gym only (listed in
`HARBOR_NEEDS_COMPOSE`), see harbor_parity_runner.py for the one adapter this test uses.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from envs.suites.terminal_bench import TB_MINI_TASKS, TaskFolderSuite, tb_mini
from envs.suites.terminal_bench.suite import TB_MINI_BASE_MAP
from tests.suites.test_terminal_bench_suite import INDEX, _docker_ready, run_task

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HARBOR_VERSION = "0.26.0"
RUNNER = Path(__file__).with_name("harbor_parity_runner.py")
HARBOR_IDS = [e["id"] for e in INDEX if e["format"] == "harbor"]
TB_IDS = [e["id"] for e in INDEX if e["format"] == "terminal-bench"]
#: Harbor runs services with `docker compose`, which these machines do not have.
HARBOR_NEEDS_COMPOSE = {"stock-service-lookup"}
#: Harbor's mapper refuses solution.yaml ("Please convert it to solution.sh").
MAPPER_REFUSES = {"project-shell-setup": "solution.yaml"}


def python_312() -> str | None:
    """A Python >= 3.12 interpreter on this machine (Harbor's minimum), or None."""
    if sys.version_info >= (3, 12):
        return sys.executable
    candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 16)]
    home = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{home}/versions/3.1[2-9]*/bin/python3"), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


def _harbor_venv() -> tuple[Path | None, str]:
    """(the venv's python with harbor installed, or None; why not)."""
    base = python_312()
    if base is None:
        return None, "Harbor needs Python >= 3.12 and none is installed here"
    cache = Path(os.environ.get("ALE_PARITY_CACHE", Path.home() / ".cache" / "ale-gym"))
    venv = cache / f"harbor-{HARBOR_VERSION}"
    python = venv / "bin" / "python"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"harbor-{HARBOR_VERSION}.lock", "w") as lock:  # xdist workers share it
        fcntl.flock(lock, fcntl.LOCK_EX)
        ok = (
            python.is_file()
            and subprocess.run(
                [str(python), "-c", "import harbor.trial.trial"], capture_output=True
            ).returncode
            == 0
        )
        if not ok:
            shutil.rmtree(venv, ignore_errors=True)
            steps = [
                [base, "-m", "venv", str(venv)],
                [str(python), "-m", "pip", "install", "-q", f"harbor=={HARBOR_VERSION}"],
            ]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    return None, f"cannot install harbor=={HARBOR_VERSION}: {done.stderr[-500:]}"
    return python, ""


@pytest.fixture(scope="module")
def harbor() -> Iterator[Path]:
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    python, why = _harbor_venv()
    if python is None:
        pytest.skip(why)
    yield python


def _runner(python: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [str(python), str(RUNNER), *args], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _ale_rewards(task_ids: list[str], suite: TaskFolderSuite | None = None) -> dict[str, object]:
    """{task/oracle, task/nop: reward} from ALE-Gym's env (oracle episode, empty episode)."""

    def one(task_id: str) -> tuple[str, object]:
        try:
            run = run_task(task_id) if suite is None else _run_in(suite, task_id)
        except Exception as exc:
            return task_id, f"error: {exc}"
        return task_id, (run["oracle_reward"], run["empty_reward"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(one, task_ids))
    out: dict[str, object] = {}
    for task_id, value in results.items():
        if isinstance(value, tuple):
            out[f"{task_id}/oracle"], out[f"{task_id}/nop"] = value
        else:
            out[f"{task_id}/oracle"] = out[f"{task_id}/nop"] = value
    return out


def _run_in(suite: TaskFolderSuite, task_id: str) -> dict[str, object]:
    from envs.core.env import ChunkEnv
    from tests.suites.test_terminal_bench_suite import SUBMIT, bash

    env = ChunkEnv(suite, backend="docker", max_turns=20)
    try:
        env.reset(options={"task_id": task_id})
        for command in env.task.oracle_actions():  # type: ignore[union-attr]
            env.step(bash(command))
        oracle = env.step(SUBMIT)[1]
        env.reset(options={"task_id": task_id})
        empty = env.step(SUBMIT)[1]
        return {"oracle_reward": oracle, "empty_reward": empty}
    finally:
        env.close()


def test_harbor_and_ale_gym_give_the_same_rewards(harbor: Path, tmp_path: Path) -> None:
    suite = tb_mini(task_ids=HARBOR_IDS)
    jobs = []
    for task_id in HARBOR_IDS:
        if task_id in HARBOR_NEEDS_COMPOSE:
            continue
        task = suite.load(task_id)
        task.ensure_image("docker")  # the local image both runners start from
        for agent in ("oracle", "nop"):
            jobs.append(
                {
                    "task_dir": str(TB_MINI_TASKS / task_id),
                    "image": task.image,
                    "agent": agent,
                    "trials_dir": str(tmp_path / "trials"),
                }
            )
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    harbor_rewards = _runner(harbor, "trial", str(tmp_path / "jobs.json"))
    ale = _ale_rewards(HARBOR_IDS)
    both = {k: (harbor_rewards.get(k), ale[k]) for k in ale if k in harbor_rewards}
    assert len(both) == 2 * (len(HARBOR_IDS) - len(HARBOR_NEEDS_COMPOSE)), harbor_rewards
    assert {k: v for k, v in both.items() if v[0] != v[1]} == {}, both
    assert all(v == (1.0, 1.0) for k, v in both.items() if k.endswith("/oracle")), both
    assert all(v == (0.0, 0.0) for k, v in both.items() if k.endswith("/nop")), both
    assert {k: v for k, v in ale.items() if k.split("/")[0] in HARBOR_NEEDS_COMPOSE} == {
        "stock-service-lookup/oracle": 1.0,
        "stock-service-lookup/nop": 0.0,
    }


def test_terminal_bench_tasks_converted_by_harbor_run_unchanged(
    harbor: Path, tmp_path: Path
) -> None:
    source, target = tmp_path / "tb", tmp_path / "converted"
    source.mkdir()
    for task_id in TB_IDS:
        shutil.copytree(TB_MINI_TASKS / task_id, source / task_id)
    mapped = _runner(harbor, "map", str(source), str(target))
    refused = {name: why for name, why in mapped["failed"]}  # type: ignore[union-attr]
    assert set(refused) == set(MAPPER_REFUSES), refused
    assert all(MAPPER_REFUSES[name] in why for name, why in refused.items()), refused
    converted = sorted(mapped["mapped"])  # type: ignore[arg-type]
    assert converted == sorted(set(TB_IDS) - set(MAPPER_REFUSES))
    suite = TaskFolderSuite(target, base_image_map=TB_MINI_BASE_MAP, image_prefix="ale-tb-parity")
    assert suite.warnings() == {}  # every key Harbor writes is one we know
    for task_id in converted:
        assert suite.load(task_id).config.format == "harbor"
    rewards = _ale_rewards(converted, suite)
    assert rewards == {
        **{f"{t}/oracle": 1.0 for t in converted},
        **{f"{t}/nop": 0.0 for t in converted},
    }
