"""Environment workers as Ray actors on a 2-node local cluster: spread over both nodes, and
they prefetch (reset) the next batch's envs while the trainer runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

from rl.config import parse_config
from rl.records import read_jsonl
from rl.train_loop import train
from rl.workers import EnvSpec, WorkerGroup


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.mark.ray
def test_ray_workers_spread_over_two_nodes_and_prefetch(cluster: Any) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    group = WorkerGroup(EnvSpec("ale/ToyShell-v0"), workers=2, envs_per_worker=2, use_ray=True)
    try:
        assert len(set(group.node_ids())) == 2
        jobs = [(i, {"task_id": "beta-io", "replay": ["cd beta"]}, None) for i in range(4)]
        group.prefetch(jobs)
        resets = group.reset_many(jobs)
        assert [info["replayed"][0]["action"] for _, info in resets] == ["cd beta"] * 4
        steps = group.step_many([(i, "test") for i in range(4)])
        assert all(obs == "tests FAIL in io" for obs, *_ in steps)
        stats = group.stats()
        assert stats["prefetch_hits"] == 4 and stats["resets"] == 4 and stats["steps"] == 4
    finally:
        group.close()


@pytest.mark.ray
def test_train_with_ray_env_workers_prefetches_during_train(cluster: Any, tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "run": {
                "out_dir": str(tmp_path / "run"),
                "steps": 3,
                "checkpoint_every": 0,
                "progress": False,
            },
            "model": {"dim": 32, "layers": 1, "heads": 2},
            "scheduler": {
                "mode": "colocated",
                "workers": 2,
                "envs_per_worker": 4,
                "ray": True,
                "ray_address": cluster.address,
            },
            "rollout": {"starts": 4, "group_size": 2},
            "trainer": {"micro_batch": 8, "update_epochs": 1},
            "eval": {"every": 0},
        }
    )
    summary = train(cfg)
    [workers] = read_jsonl(summary.run_dir / "workers.jsonl")
    assert len(set(workers["nodes"])) == 2
    # batches 2 and 3 were reset during the TRAIN phase before them: 2 x 8 prefetch hits
    assert workers["stats"]["prefetch_hits"] == 16
    assert [t["step"] for t in read_jsonl(summary.run_dir / "trained.jsonl")] == [1, 2, 3]
