"""The sandbox benchmark runs end to end (its numbers are printed, never asserted)."""

from __future__ import annotations

import pytest

from bench.perf.sandbox import main

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_sandbox_benchmark_quick_has_no_failures(capsys: pytest.CaptureFixture[str]) -> None:
    result = main(["--quick"])
    out = capsys.readouterr().out
    assert "cold create p50" in out and "raw docker exec" in out
    assert result["concurrent"]["failures"] == 0  # type: ignore[index]
