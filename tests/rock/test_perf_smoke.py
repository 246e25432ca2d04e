"""The sandbox and egress benchmarks run end to end (numbers printed, never asserted)."""

from __future__ import annotations

import pytest

from bench.perf.sandbox import main

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_sandbox_benchmark_quick_has_no_failures(capsys: pytest.CaptureFixture[str]) -> None:
    result = main(["--quick", "--no-swerex"])
    out = capsys.readouterr().out
    assert "method: ABBA over raw docker run --rm / ours" in out and "raw docker exec" in out
    assert "skipped: --no-swerex" in out and "load " in out
    assert result["concurrent"]["failures"] == 0  # type: ignore[index]


def test_egress_benchmark_quick_runs_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.perf.egress import main as egress_main

    result = egress_main(["--quick", "--pairs", "1", "--mb", "8"])
    out = capsys.readouterr().out
    assert out.startswith("method: ABBA over A network none / B allowlist proxy, 2 repeats")
    assert "ratio" in out
    assert len(result["transfer_mb_s"]["bridge"]) == len(result["transfer_mb_s"]["proxied"]) == 4
