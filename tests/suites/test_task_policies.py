"""Per-task permissions: what each task format asks for becomes the sandbox's policy.

Harbor's network modes, SWE-bench's `none` with an opt-in allowlist during grading installs
only (a `grading_allow` in the suite or its specs), a `policy:` block in a suite spec, and the
env's own `sandbox_policy` (agent configs) over all of them.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envs.core.errors import TaskError
from envs.rock import Sandbox
from envs.rock.egress import PACKAGE_INDEX
from envs.suites.terminal_bench.config import load_task_config
from envs.suites.terminal_bench.task import network_policy
from tests.conftest import backend_params
from tests.suites.swebench_checks import started
from tests.suites.test_swebench_suite import REPO, SPECS, make_tiny, tiny_suite

TB_MINI = Path(__file__).resolve().parents[2] / "envs/suites/tb_mini/tasks"


def test_harbor_network_modes_map_to_sandbox_policies() -> None:
    config = load_task_config(TB_MINI / "access-log-sessions")
    assert config.format == "harbor" and network_policy(config).mode == "none"
    public = dataclasses.replace(config, network="public")
    assert network_policy(public).mode == "open"
    listed = dataclasses.replace(config, network="allowlist", allowed_hosts=("pypi.org",))
    assert network_policy(listed).allow == ("pypi.org",)
    bad = dataclasses.replace(config, network="allowlist", allowed_hosts=("http://x.org/",))
    with pytest.raises(TaskError, match="allowed_hosts"):
        network_policy(bad)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return make_tiny(tmp_path_factory.mktemp("tiny"))


def test_swebench_is_offline_unless_grading_opts_in(tiny: tuple[dict[str, Any], Path]) -> None:
    tid = tiny[0]["instance_id"]
    assert tiny_suite(tiny).load(tid).sandbox_spec().network == "none"
    opted = tiny_suite(tiny, grading_allow=PACKAGE_INDEX).load(tid)
    spec = opted.sandbox_spec()  # the agent reaches nothing: an allowlist with nothing in it
    assert spec.network == "allowlist" and spec.policy.network.allow == ()
    assert opted.grading_allow == PACKAGE_INDEX
    specs = {REPO: {"1.0": {**SPECS[REPO]["1.0"], "policy": {"resources": {"cpus": 2}}}}}
    assert tiny_suite(tiny, specs).load(tid).sandbox_spec().cpus == 2


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[bytes]]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            seen.append(conn.recv(200).split(b"\r\n")[0])
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], seen
    srv.close()


@pytest.mark.parametrize("backend", backend_params())
def test_grading_allowlist_opens_only_while_the_eval_script_runs(
    backend: str, tiny: tuple[dict[str, Any], Path], listener: tuple[int, list[bytes]]
) -> None:
    port, seen = listener
    fetch = f"NO_PROXY= no_proxy= curl -s -m 10 http://127.0.0.1:{port}"
    specs = {REPO: {"1.0": {**SPECS[REPO]["1.0"], "eval_commands": [f"{fetch}/grading-install"]}}}
    task = tiny_suite(tiny, specs, grading_allow=[f"127.0.0.1:{port}"]).load(tiny[0]["instance_id"])
    made: list[Sandbox] = []
    try:
        sb = started(task, made, backend=backend)
        agent = sb.run(f"{fetch}/agent -w ' %{{http_code}}'", timeout=30)
        assert agent.output.endswith("403"), agent.output  # the agent phase reaches nothing
        task.apply_oracle(sb)
        grade = task.grade(sb)
        assert grade.resolved, grade.log[-2000:]
        assert seen == [b"GET /grading-install HTTP/1.1"]  # the eval script did
        after = sb.run(f"{fetch}/after -w ' %{{http_code}}'", timeout=30)
        assert after.output.endswith("403"), after.output  # and it closed again
        verdicts = [(e["dest"], e["verdict"]) for e in sb.audit() if e["kind"] == "http"]
        assert verdicts.count((f"127.0.0.1:{port}", "refused")) == 2
    finally:
        for sb in made:
            sb.close()
