"""Cleanup touches only what it owns (issue 13, item 6).

`gc` by default covers sandboxes created on this host by this uid; `--run`/`--owner` narrow
that, only `--all` reaches other owners. `ale bench run` collects only its own run. A local
sandbox whose teardown was killed at any step (labels gone or not) is found and finished by gc.

Every collection here is scoped by a label unique to the test, so it never touches another
process's sandboxes on a shared engine. The "orphans" are real: containers (docker) or state
directories (local) labelled as another owner's, with their TTL passed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.harness import run_bench
from bench.store import AttemptResult, RunStore, run_id_of
from envs.rock import SandboxSpec
from envs.rock.api import (
    APP_NAME,
    DEFAULT_IMAGE,
    LABEL_APP,
    LABEL_BACKEND,
    LABEL_EXPIRES_AT,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_UID,
    LABEL_RUN,
)
from envs.rock.gc import GcScope, collect, list_all, list_local, remove
from tests.conftest import REPO

if TYPE_CHECKING:
    from envs.rock.local_backend import LocalSandbox

TEST_LABEL = "ale.test.gc"
Orphan = Callable[..., str]


def _labels(backend: str, token: str, **over: str) -> dict[str, str]:
    """Labels of an orphan (TTL passed) owned by this host and uid unless `over` says else."""
    return {
        LABEL_APP: APP_NAME,
        LABEL_BACKEND: backend,
        LABEL_OWNER_HOST: socket.gethostname(),
        LABEL_OWNER_UID: str(os.getuid()),
        LABEL_OWNER_PID: "0",
        LABEL_EXPIRES_AT: "1",
        TEST_LABEL: token,
        **over,
    }


@pytest.fixture()
def token() -> str:
    return secrets.token_hex(6)


@pytest.fixture()
def orphan(backend: str, token: str) -> Iterator[Orphan]:
    """`orphan(**labels) -> id`: a real sandbox record of `backend` with these labels."""
    made: list[str] = []

    def make(**over: str) -> str:
        labels = _labels(backend, token, **over)
        if backend == "docker":
            from envs.rock.docker_backend import client

            c = client().containers.run(
                DEFAULT_IMAGE,
                ["sleep", "120"],
                detach=True,
                auto_remove=True,
                network_mode="none",
                labels=labels,
            )
            sid = str(c.id[:12])
        else:
            from envs.rock.overlay import local_root

            sid = secrets.token_hex(6)
            d = local_root() / sid
            d.mkdir(parents=True, mode=0o700)
            (d / "labels.json").write_text(json.dumps(labels))
        made.append(sid)
        return sid

    yield make
    for record in list_all():  # whatever a failing test left: ours by the unique label only
        if record.labels.get(TEST_LABEL) == token:
            remove(record)


def ours(token: str) -> set[str]:
    return {r.id for r in list_all() if r.labels.get(TEST_LABEL) == token}


def test_gc_spares_other_hosts_and_users(orphan: Orphan, token: str) -> None:
    mine = orphan()
    other_host = orphan(**{LABEL_OWNER_HOST: "some-other-host"})
    other_user = orphan(**{LABEL_OWNER_UID: str(os.getuid() + 4242)})
    assert ours(token) == {mine, other_host, other_user}
    removed = collect(GcScope(labels={TEST_LABEL: token}))
    assert {r.id for r in removed} == {mine}
    assert ours(token) == {other_host, other_user}
    assert {r.id for r in collect(GcScope(labels={TEST_LABEL: token}, any_owner=True))} == {
        other_host,
        other_user,
    }
    assert ours(token) == set()


def test_gc_owner_scope(orphan: Orphan, token: str) -> None:
    a = orphan(**{LABEL_OWNER_PID: "999999991"})
    b = orphan(**{LABEL_OWNER_PID: "999999992"})
    removed = collect(GcScope(labels={TEST_LABEL: token}, owner_pid=999999991))
    assert [r.id for r in removed] == [a]
    assert ours(token) == {b}


def test_bench_run_collects_only_its_own_run(
    orphan: Orphan, token: str, tmp_path: Path, backend: str
) -> None:
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    orphan(**{LABEL_RUN: run_id_of(run_a)})  # removed by the run below
    theirs = orphan(**{LABEL_RUN: run_id_of(run_b)})
    stranger = orphan()  # no run at all: e.g. another tool's orphan on the same engine

    def never(task_id: str, attempt: int, store: RunStore) -> AttemptResult:
        raise AssertionError("no task to run")

    run_bench(RunStore(run_a), [], never, "m", show_progress=False, collect_orphans=True)
    assert ours(token) == {theirs, stranger}
    if backend == "docker":  # the CLI's scope flag, as a user types it
        out = subprocess.run(
            [sys.executable, "-m", "bench.cli.main", "sandbox", "gc", "--run", run_id_of(run_b)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert theirs in out.stdout
        assert ours(token) == {stranger}


# -- local: an interrupted teardown is finished by gc ------------------------------------------
local_only = pytest.mark.local


def _local_sandbox(token: str) -> tuple[LocalSandbox, Path, list[int]]:
    from envs.rock.cgroups import SandboxCgroup
    from envs.rock.local_backend import LocalSandbox

    sb = LocalSandbox.create(SandboxSpec(labels={TEST_LABEL: token}))
    sb.run("(sleep 1000 &)")
    return sb, sb._layout.dir, SandboxCgroup(sb.id).pids()


def _assert_gone(sid: str, state_dir: Path, pids: list[int]) -> None:
    from envs.rock.cgroups import SandboxCgroup
    from envs.rock.local_state import proc_start

    mounts = Path("/proc/self/mountinfo").read_text()
    assert sid not in mounts, "a mount of the sandbox is left"
    assert not SandboxCgroup(sid).exists(), "a cgroup of the sandbox is left"
    assert not state_dir.exists(), "the state directory is left"
    assert pids and not [p for p in pids if proc_start(p)], "a process is left"
    assert sid not in {r.id for r in list_local()}


def _skip_without_local() -> None:
    from envs.rock.image_build import rootfs_path

    if os.geteuid() != 0 or not shutil.which("bwrap"):
        pytest.skip("the local backend needs root and bubblewrap")
    if not (rootfs_path(DEFAULT_IMAGE) / "bin").exists():
        pytest.skip("no root filesystem: run `ale images build --local`")


@local_only
@pytest.mark.parametrize("done", [1, 2, 3, 4, 5])
def test_teardown_killed_after_any_step_is_finished_by_gc(token: str, done: int) -> None:
    """A teardown that stops after `done` of its steps (as a SIGKILL would leave it) still
    leaves a record gc finds, as exited, and removes completely."""
    from envs.rock.local_state import teardown_steps

    _skip_without_local()
    sb, state_dir, pids = _local_sandbox(token)
    try:
        steps = teardown_steps(sb._layout)
        for _, step in steps[:done]:
            step()
        record = {r.id: r for r in list_local()}.get(sb.id)
        assert record is not None, f"gc cannot find a sandbox torn down up to {steps[done - 1][0]}"
        assert record.status == "exited"
        removed = collect(GcScope(labels={TEST_LABEL: token}, owner_pid=os.getpid()))
        assert [r.id for r in removed] == [sb.id]
        _assert_gone(sb.id, state_dir, pids)
    finally:
        sb.close()


@local_only
def test_state_dir_without_labels_is_found_and_collected(token: str) -> None:
    """What an interrupted teardown of old left: processes, mounts, cgroups, no labels.json."""
    _skip_without_local()
    sb, state_dir, pids = _local_sandbox(token)
    try:
        (state_dir / "labels.json").unlink()
        record = {r.id: r for r in list_local()}.get(sb.id)
        assert record is not None, "gc does not see a state directory without labels"
        assert record.labels[LABEL_OWNER_UID] == str(os.getuid())
        assert not record.orphan  # just changed: it might be a sandbox being created
        past = time.time() - 3600
        os.utime(state_dir, (past, past))
        record = {r.id: r for r in list_local()}[sb.id]
        assert record.orphan
        remove(record)
        _assert_gone(sb.id, state_dir, pids)
    finally:
        sb.close()


@local_only
def test_cgroup_without_state_dir_is_found_and_collected() -> None:
    """Cgroups an older teardown left behind after deleting the state directory."""
    from envs.rock.cgroups import CgroupLimits, SandboxCgroup

    _skip_without_local()
    sid = secrets.token_hex(6)
    cgroup = SandboxCgroup(sid)
    cgroup.create(CgroupLimits(64 * 2**20, 16, 1.0))
    try:
        record = {r.id: r for r in list_local()}.get(sid)
        assert record is not None, "gc does not see a cgroup without a state directory"
        assert record.status == "leftover" and not record.orphan  # it may be mid-creation
        remove(record)
        assert not cgroup.exists()
    finally:
        cgroup.remove()
