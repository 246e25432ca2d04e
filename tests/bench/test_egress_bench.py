"""Egress audit in bench runs: the agent config's `policy:` block reaches the sandbox, every
allowed and refused attempt lands in RUN/audit/, the ledger counts them and `ale bench report`
shows refusals per task. Both backends; listeners on this host's loopback only."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.config import AgentConfig
from bench.cli.main import app
from bench.harness import run_bench
from bench.runners import AgentRunner
from bench.store import RunStore
from bench.tasks import RUN_LABEL, BenchSuite
from tests.bench.fixture_suites import NumberSuite
from tests.bench.test_sandbox_lost_bench import Script
from tests.conftest import backend_params


@pytest.fixture()
def ports() -> Iterator[tuple[int, int, list[int]]]:
    """Two TCP listeners on 127.0.0.1 answering one line; yields (port, port, accepts)."""
    accepted: list[int] = []
    servers = []
    for _ in range(2):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        servers.append(srv)

        def serve(s: socket.socket = srv) -> None:
            while True:
                try:
                    conn, _ = s.accept()
                except OSError:
                    return
                accepted.append(s.getsockname()[1])
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
    yield servers[0].getsockname()[1], servers[1].getsockname()[1], accepted
    for srv in servers:
        srv.close()


@pytest.mark.parametrize("backend", backend_params())
def test_audit_lands_in_the_run_folder_and_report(
    tmp_path: Path, backend: str, ports: tuple[int, int, list[int]]
) -> None:
    allowed, other, accepted = ports
    agent = AgentConfig.load("terminal").model_copy(
        update={"policy": {"network": {"allow": [f"127.0.0.1:{allowed}"]}}}
    )
    curl = "NO_PROXY= no_proxy= curl -s -m 10 http://127.0.0.1:{}/"
    script = Script([curl.format(allowed), curl.format(other), "getent hosts cheat.invalid"])
    runner = AgentRunner(
        BenchSuite(NumberSuite(1), {RUN_LABEL: f"test-egress-{tmp_path.name}"}),
        agent,
        lambda: script,
        backend=backend,
    )
    store = RunStore(tmp_path)
    try:
        run_bench(store, ["number-00"], runner, "m", workers=1, show_progress=False)
    finally:
        runner.close()
    (result,) = store.results()
    assert accepted == [allowed]
    refused = result.egress["refused"]  # the HTTP request, and the name (A and AAAA queries)
    assert result.egress["allowed"] == 1 and refused >= 2, result
    events = [
        json.loads(x) for x in (tmp_path / "audit" / "number-00__a0.jsonl").read_text().splitlines()
    ]
    assert len(events) == 1 + refused
    assert {(e["kind"], e["verdict"]) for e in events} == {
        ("http", "allowed"),
        ("http", "refused"),
        ("dns", "refused"),
    }
    header = json.loads(store.trajectory_path("number-00", 0).read_text().splitlines()[0])
    permissions = header["info"]["permissions"]
    assert permissions["network"] == {"mode": "allowlist", "allow": [f"127.0.0.1:{allowed}"]}
    assert permissions["resources"]["memory_mb"] > 0
    from typer.testing import CliRunner

    out = CliRunner().invoke(app, ["bench", "report", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert f"| number-00 | {refused} | {refused} | 1 |" in out.output
    assert "Egress: refused connection attempts" in (tmp_path / "report.md").read_text()
