"""Shared fixtures: sandbox backends, markers, and the CI rule for skips.

Under `CI=true` (`.ci/run` exports it) the machine is set up for every part, so a `docker`,
`local` or `ray` test that skips is a broken part, not a missing one: its skip is reported as
a failure with the skip's reason. `gpu` tests still skip where no CUDA device is present,
`network` tests where the package index is unreachable, and so does anything else. A module
that skips as a whole at import under CI fails too (skip per test, with the test's markers,
instead).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BACKEND_MARKS = {"docker": pytest.mark.docker, "local": pytest.mark.local}
#: Every sandbox a test session starts (its xdist workers and their subprocesses too) carries
#: this label, set through $ALE_SANDBOX_LABELS; cleanup at the end is scoped to it.
SESSION_LABEL = "ale.test.session"
SESSION_ENV = "ALE_TEST_SESSION"
#: Markers of parts CI always provides: a skip of such a test fails under CI=true.
CI_REQUIRED_MARKS = ("docker", "local", "ray")


def backend_params() -> list[object]:
    """`pytest.param` per sandbox backend, marked so `-m "not local"` deselects one."""
    return [pytest.param(name, marks=mark, id=name) for name, mark in BACKEND_MARKS.items()]


def in_ci() -> bool:
    """True when `CI` is set to a true value (`.ci/run` sets CI=true)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return f"{longrepr[2]} ({longrepr[0]}:{longrepr[1]})"
    return str(longrepr)


def ci_skip_failure(markers: set[str], reason: str) -> str | None:
    """The failure message for a skip under CI, or None when the skip may stand."""
    needed = sorted(markers & set(CI_REQUIRED_MARKS))
    if not needed or "gpu" in markers or "network" in markers:
        return None
    return (
        f"CI=true: this {'/'.join(needed)} test skipped, but CI provides "
        f"{' and '.join(needed)} (run .ci/setup-machine.sh): {reason}"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Name this session (once: xdist workers inherit the controller's name) and label every
    sandbox it starts with it."""
    from envs.rock.api import ENV_EXTRA_LABELS

    if os.environ.get(SESSION_ENV):
        return
    session = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    os.environ[SESSION_ENV] = session
    extra = os.environ.get(ENV_EXTRA_LABELS, "")
    os.environ[ENV_EXTRA_LABELS] = ",".join(filter(None, [extra, f"{SESSION_LABEL}={session}"]))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove what this session's tests left running (only this session's: other users of the
    engine, and a concurrent run of this suite, are not touched), and say so."""
    if hasattr(session.config, "workerinput"):  # the controller does it, after every worker
        return
    from envs.rock.gc import GcScope, collect

    left = collect(GcScope(labels={SESSION_LABEL: os.environ[SESSION_ENV]}), live=True)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            ids = ", ".join(f"{r.backend}:{r.id}" for r in left)
            reporter.write_line(f"tests left {len(left)} sandbox(es) running; removed: {ids}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    markers = {m.name for m in item.iter_markers()}
    message = ci_skip_failure(markers, _skip_reason(report))
    if message is not None:
        report.outcome = "failed"
        report.longrepr = message


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and in_ci() and isinstance(collector, pytest.Module):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: module {collector.nodeid} skipped as a whole at import; skip per test "
            f"(so a gpu test may skip and a docker/local/ray test fails): {_skip_reason(report)}"
        )


def once_per_session(
    tmp_path_factory: pytest.TempPathFactory, name: str, compute: Callable[[], Any]
) -> Any:
    """`compute()` once per pytest session, its JSON-able result shared by every xdist worker.

    The first worker to ask computes under a file lock in the session's base temp folder (the
    parent of the workers' own); the others wait for the lock and read the result. A new
    session (another `pytest` run, also a concurrent one) has its own folder, so computes again.
    """
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / f"{name}.json"
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        result = compute()
        path.write_text(json.dumps(result), encoding="utf-8")
        return result


@pytest.fixture(scope="session")
def cpu_threads() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("ALE_TEST_THREADS", "1")))
