"""`ale bench perf run scaling` with tiny parameters: every point (1 and 2 sandboxes) performs
the same operations per sandbox, on both backends; numbers are printed, never asserted."""

from __future__ import annotations

import pytest

from bench.perf.hostmem import cgroup_dir, sandbox_memory
from bench.perf.scaling import measure_point, ray_runs
from envs.rock import SandboxSpec
from envs.rock.factory import create_sandbox
from tests.conftest import backend_params

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", backend_params())
def test_each_point_does_the_same_operations_per_sandbox(backend: str) -> None:
    points = [measure_point(backend, n, steps=2, lifecycles=1, run_id="smoke") for n in (1, 2)]
    assert (
        points[0].ops
        == points[1].ops
        == {
            "close": 2.0,  # one lifecycle + the stepped sandbox
            "create": 2.0,
            "lifecycle": 1.0,
            "run:/bin/echo": 2.0,
            "run:true": 2.0,
        }
    )
    for p in points:
        assert p.failures == []
        assert p.steps_per_s > 0 and p.resets_per_s > 0
        assert p.memory_mib["cgroup"] > 0  # the sandbox's cgroup was found and read


@pytest.mark.parametrize("backend", backend_params())
def test_memory_counts_the_sandbox_and_its_own_host_processes(backend: str) -> None:
    sb = create_sandbox(SandboxSpec(memory_mb=256), backend)
    try:
        sb.run("true")
        before = sandbox_memory(backend, sb.id)
        held = sb.run(
            "x=$(head -c 30000000 /dev/zero | tr '\\0' a); echo ${#x}"
        )  # the shell keeps x
        assert held.output.strip() == "30000000"
        after = sandbox_memory(backend, sb.id)
        assert cgroup_dir(backend, sb.id) is not None and before.readable
        assert after.cgroup_rss - before.cgroup_rss > 20 * 2**20
        # its own host processes (shim / bwrap wrapper), never the shared daemons
        assert before.engine > 0 and before.engine_procs
        assert not {"containerd", "dockerd"} & set(before.engine_procs)
    finally:
        sb.close()


def test_ray_runs_parse() -> None:
    assert ray_runs("0.5/0.05x64,0/0x1500") == [(0.5, 0.05, 64), (0.0, 0.0, 1500)]
