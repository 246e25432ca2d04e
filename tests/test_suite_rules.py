"""Rules of the suite itself (tests/conftest.py): under CI=true a docker/local/ray skip is a
failure (not one of a `gpu` or `network` test); `once_per_session` computes once for all
xdist workers of one session."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401
"""
INI = """
[pytest]
markers =
    docker: d
    local: l
    ray: r
    gpu: g
    network: n
"""
TESTS = """
import pytest

@pytest.mark.docker
def test_docker_skips():
    pytest.skip("engine down")

@pytest.fixture(scope="module")
def needs_local():
    pytest.skip("no root filesystem")

@pytest.mark.local
def test_local_fixture_skips(needs_local):
    pass

@pytest.mark.ray
@pytest.mark.skipif(True, reason="ray missing")
def test_ray_skipif():
    pass

@pytest.mark.gpu
@pytest.mark.docker
def test_gpu_skips():
    pytest.skip("no CUDA device")

@pytest.mark.network
@pytest.mark.local
def test_registry_unreachable_skips():
    pytest.skip("package index unreachable")

def test_unmarked_skips():
    pytest.skip("optional data absent")

@pytest.mark.docker
@pytest.mark.xfail(reason="known", strict=False)
def test_docker_xfail():
    assert False

@pytest.mark.docker
def test_docker_passes():
    pass
"""
MODULE_SKIP = """
import pytest
pytest.skip("whole module", allow_module_level=True)

def test_never():
    pass
"""


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None, module: str
) -> pytest.RunResult:
    from tests.conftest import REPO

    pytester.syspathinsert(REPO)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_marked=TESTS, test_module_skip=MODULE_SKIP)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return pytester.runpytest("-p", "no:cacheprovider", "-rfEs", module)


def test_ci_turns_docker_local_ray_skips_into_failures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, "true", "test_marked.py")
    # a skip in the test body fails it; one in setup (fixture, skipif) errors it
    result.assert_outcomes(passed=1, failed=1, errors=2, skipped=3, xfailed=1)
    assert result.ret != 0
    for name, reason in [
        ("test_docker_skips", "engine down"),
        ("test_local_fixture_skips", "no root filesystem"),
        ("test_ray_skipif", "ray missing"),
    ]:  # the failure names the test, the rule and the skip's own reason
        result.stdout.re_match_lines(
            [f"(FAILED|ERROR) test_marked.py::{name} - CI=true: .*{reason}"]
        )
    result.stdout.re_match_lines(
        [
            "SKIPPED .*no CUDA device",
            "SKIPPED .*package index unreachable",
            "SKIPPED .*optional data absent",
        ]
    )


def test_ci_fails_a_module_that_skips_as_a_whole(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, "true", "test_module_skip.py")
    result.assert_outcomes(errors=1)
    result.stdout.re_match_lines(["ERROR test_module_skip.py - CI=true: .*whole module"])


@pytest.mark.parametrize("ci", [None, "false"])
def test_without_ci_they_stay_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    result = _run(pytester, monkeypatch, ci, ".")
    result.assert_outcomes(passed=1, skipped=7, xfailed=1)


ONCE = """
import os
from pathlib import Path

import pytest

from tests.conftest import once_per_session

CALLS = Path(os.environ["ONCE_CALLS"])


def compute():
    with CALLS.open("a") as fh:
        fh.write(os.environ.get("PYTEST_XDIST_WORKER", "main") + "\\n")
    return {"value": 42}


@pytest.mark.parametrize("i", range(6))
def test_uses_it(tmp_path_factory, i):
    assert once_per_session(tmp_path_factory, "answer", compute) == {"value": 42}
"""


def test_once_per_session_computes_once_across_xdist_workers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import REPO

    pytester.syspathinsert(REPO)
    pytester.makepyfile(test_once=ONCE)
    calls = pytester.path / "calls.txt"
    monkeypatch.setenv("ONCE_CALLS", str(calls))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-q")
    result.assert_outcomes(passed=6)
    assert len(calls.read_text().splitlines()) == 1, calls.read_text()
    calls.unlink()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-q")
    result.assert_outcomes(passed=6)  # a new session computes again
    assert len(calls.read_text().splitlines()) == 1
