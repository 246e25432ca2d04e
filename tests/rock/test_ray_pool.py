"""The Ray sandbox pool on a 2-node local Ray cluster (`ray.cluster_utils.Cluster`).

Both nodes run on this machine and share its Docker engine, but they are distinct Ray nodes
(own raylet, own node id), so placement is observable through node ids and container labels.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envs.rock import Sandbox, SandboxSpec
from envs.rock.api import LABEL_APP
from envs.rock.errors import SandboxDead, SandboxFileError
from envs.rock.placement import eligible_nodes, pick_spread
from envs.rock.ray_pool import (
    LABEL_RAY_NODE,
    LABEL_RAY_POOL,
    RaySandbox,
    RaySandboxPool,
)

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.slow]

RESOURCE = "ale_sandbox"
_NODE = dict(
    num_cpus=1, object_store_memory=80 * 1024**2, resources={RESOURCE: 8}, include_log_monitor=False
)


def _containers(pool_id: str) -> list[Any]:
    from envs.rock.docker_backend import client

    return list(
        client().containers.list(all=True, filters={"label": f"{LABEL_RAY_POOL}={pool_id}"})
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    c = Cluster(initialize_head=True, head_node_args={**_NODE, "include_dashboard": False})
    c.add_node(**_NODE)
    c.wait_for_nodes()
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture()
def pool(cluster: Any) -> Iterator[RaySandboxPool]:
    p = RaySandboxPool(
        SandboxSpec(memory_mb=256, ttl_s=600), backend="docker", node_resource=RESOURCE
    )
    yield p
    p.close()


def test_spread_over_both_nodes_commands_and_files(pool: RaySandboxPool, tmp_path: Path) -> None:
    import ray

    cluster_nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(cluster_nodes) == 2
    boxes = pool.acquire_many(4)
    assert {sb.node_id for sb in boxes} == cluster_nodes
    assert sorted(pool.load().values()) == [2, 2]

    # each container is labelled with the node of the actor that owns it
    labels = {c.id[:12]: c.labels for c in _containers(pool.pool_id)}
    assert set(labels) == {sb.id for sb in boxes}
    for sb in boxes:
        assert labels[sb.id][LABEL_RAY_NODE] == sb.node_id[:16]
        assert labels[sb.id][LABEL_APP] == "ale-gym"

    for i, sb in enumerate(boxes):
        assert isinstance(sb, RaySandbox) and isinstance(sb, Sandbox)
        r = sb.run(f"echo box-{i} && hostname")
        assert r.ok and r.output.startswith(f"box-{i}\n")
        sb.run("cd /tmp && export GREETING=hi")  # the persistent session lives in the actor
        assert sb.run("pwd; echo $GREETING").output == "/tmp\nhi\n"

    assert boxes[1].run("sleep 5", timeout=0.5).timed_out  # killed in the remote session
    assert boxes[1].run("echo after").output == "after\n"

    blob = os.urandom(256 * 1024) + bytes(range(256))
    boxes[0].write("/tmp/blob.bin", blob)
    assert boxes[0].read("/tmp/blob.bin") == blob
    with pytest.raises(SandboxFileError):
        boxes[1].read("/tmp/blob.bin")  # another sandbox: not there

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n")
    (tree / "sub" / "b.bin").write_bytes(blob)
    boxes[3].upload(tree, "/work/tree")
    assert boxes[3].run("cat /work/tree/a.txt").output == "alpha\n"
    boxes[3].download("/work/tree", tmp_path / "back")
    assert (tmp_path / "back" / "a.txt").read_text() == "alpha\n"
    assert (tmp_path / "back" / "sub" / "b.bin").read_bytes() == blob

    snap = boxes[2].snapshot()  # committed by the actor on its node's engine
    boxes[2].write("/tmp/later.txt", b"later")
    boxes[2].restore(snap)
    assert (
        boxes[2]
        .run("cat /tmp/later.txt 2>&1; pwd")
        .output.endswith("No such file or directory\n/tmp\n")
    )
    assert boxes[2].alive()
    assert boxes[2].id in {c.id[:12] for c in _containers(pool.pool_id)}

    pool.release(boxes[0])
    boxes[0].close()  # idempotent
    with pytest.raises(SandboxDead):
        boxes[0].run("true")
    assert len(_containers(pool.pool_id)) == 3
    pool.close()
    assert pool.live() == []
    assert _containers(pool.pool_id) == []


def test_killed_actor_gives_sandbox_dead_and_gc_removes_its_container(pool: RaySandboxPool) -> None:
    import ray

    from envs.rock import gc

    sb = pool.acquire()
    ray.kill(sb._actor, no_restart=True)
    with pytest.raises(SandboxDead, match="acquire a new sandbox"):
        sb.run("true")
    _wait_all_orphans(pool.pool_id)
    gc.collect(gc.GcScope(labels={LABEL_RAY_POOL: pool.pool_id}))  # only this pool's
    assert _containers(pool.pool_id) == []


_DRIVER = textwrap.dedent(
    """
    import sys, time, ray
    from envs.rock import Sandbox, SandboxSpec
    from envs.rock.ray_pool import RaySandboxPool
    ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False)
    pool = RaySandboxPool(SandboxSpec(memory_mb=256, ttl_s=600), backend="docker")
    boxes = pool.acquire_many(2)
    assert boxes[0].run("echo up").output == "up\\n"
    print(pool.pool_id, flush=True)
    time.sleep(600)
    """
)


def _wait_all_orphans(pool_id: str, timeout: float = 45.0) -> None:
    """Wait until Ray has ended the actors owning the pool's containers (owner pids gone)."""
    from envs.rock.api import is_orphan

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(is_orphan(dict(c.labels)) for c in _containers(pool_id)):
            return
        time.sleep(0.5)
    raise AssertionError(f"actors of pool {pool_id} still alive {timeout} s after their owner died")


def test_sigkilled_driver_leaves_nothing_after_gc(cluster: Any, tmp_path: Path) -> None:
    from envs.rock import gc

    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    err = tmp_path / "driver.err"
    with err.open("w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, cluster.address],
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
            env=env,
        )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 180)
        pool_id = proc.stdout.readline().strip() if ready else ""
        assert pool_id, f"the driver did not create its sandboxes:\n{err.read_text()[-3000:]}"
        assert len(_containers(pool_id)) == 2
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    _wait_all_orphans(pool_id)
    gc.collect(gc.GcScope(labels={LABEL_RAY_POOL: pool_id}))  # only this pool's
    assert _containers(pool_id) == []


def test_placement_rules_without_a_cluster() -> None:
    nodes = [
        {"NodeID": "a", "Alive": True, "Resources": {"CPU": 1.0, RESOURCE: 4.0}},
        {"NodeID": "b", "Alive": True, "Resources": {"CPU": 1.0}},
        {"NodeID": "c", "Alive": False, "Resources": {RESOURCE: 4.0}},
        {"NodeID": "d", "Alive": True, "Resources": {RESOURCE: 2.0}},
    ]
    assert eligible_nodes(nodes, RESOURCE) == ["a", "d"]
    assert eligible_nodes(nodes, None) == ["a", "b", "d"]
    assert pick_spread(["a", "d"], {}) == "a"
    assert pick_spread(["a", "d"], {"a": 1}) == "d"
    assert pick_spread(["a", "d"], {"a": 2, "d": 1}) == "d"
    assert pick_spread(["a", "d"], {"a": 1, "d": 1}) == "a"
