"""`ale bench perf run reset --quick`: a synthetic repository (fast-import), its first reset
sanitizes and commits once, later resets only start containers. Structure and correctness
only; the timings are the benchmark's business (docs/environments.md)."""

from __future__ import annotations

import pytest

from bench.perf.reset import main

pytestmark = pytest.mark.docker


def test_reset_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    result = main(["--quick"])
    assert (result["commits"], result["refs"], result["repeat"]) == (2000, 500, 2)
    assert result["left_refs"] == 1  # only refs/heads/main survives
    assert result["left_commits"] == result["base_commits"] == 1600  # no commit after the base
    for key in ("first_reset_s", "later_reset_p50_s", "docker_run_p50_s", "per_episode_sanitize_s"):
        assert result[key] > 0
    assert result["ratio"] == result["later_reset_p50_s"] / result["docker_run_p50_s"]
    out = capsys.readouterr().out
    assert "method: ABBA over ours / docker run, 2 repeats" in out
    assert "ratio" in out and "first reset" in out
    # the same work on both sides: one lifecycle (create, `true`, removal) per round
    assert (
        result["ops"]["ours"]
        == result["ops"]["docker run"]
        == {
            "create": 2,
            "remove": 2,
            "run:true": 2,
        }
    )
