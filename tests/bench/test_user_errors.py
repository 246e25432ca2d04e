"""User errors are messages, not tracebacks; no input crashes a run (issue 13, item 7).

The CLI cases run `bench.cli.main.main` in this process: they fail before any sandbox starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agents.config import AgentConfig
from agents.errors import PolicyError
from bench.cli.main import main
from bench.harness import run_bench
from bench.metrics import swebench_report
from bench.runners import AgentRunner, PatchRunner
from bench.store import RunStore
from envs.rock import DEFAULT_IMAGE, SandboxError, SandboxSpec
from envs.suites.terminal_bench.suite import TaskFolderSuite
from tests.conftest import backend_params

TB_MINI = Path(__file__).resolve().parents[2] / "envs/suites/tb_mini/tasks"


def ale(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return int(info.value.code or 0), capsys.readouterr().err


@pytest.fixture()
def bad_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text("name: x\n  bad: [\n")
    return path


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--policy", "klingon"], "Kinds: empty"),
        (["--agent", "nosuchagent"], "shipped ['swe', 'terminal'"),
        (["--tasks", "nosuchtask"], "unknown SWE-bench instance 'nosuchtask'"),
        (["--agent", "BAD_YAML"], "not valid YAML"),
        (["--set", "limits.max_turnz=3"], "Did you mean 'max_turns'?"),
        (["--set", "limits.max_turns"], "section.key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], hint: str, tmp_path: Path, bad_yaml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(bad_yaml) if a == "BAD_YAML" else a for a in args]
    argv = ["bench", "run", "--suite", "swe-mini", "--run-dir", str(tmp_path / "run"), *args]
    code, err = ale(argv, capsys)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert hint in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    argv = ["bench", "run", "--suite", "swe-mini", "--policy", "klingon"]
    with pytest.raises(PolicyError):
        main([*argv, "--run-dir", str(tmp_path / "a"), "--debug"])
    monkeypatch.setenv("ALE_DEBUG", "1")
    with pytest.raises(PolicyError):
        main([*argv, "--run-dir", str(tmp_path / "b")])


@pytest.mark.parametrize(
    ("content", "where", "why"),
    [
        (b'{"instance_id": "ale-gym__iniconf-1", "model_patch": ""}\n{oops\n', "line 2", "JSON"),
        (
            b'{"instance_id": "ale-gym__iniconf-1", "model_patch": ""}\n\n'
            b'{"instance_id": "ale-gym__iniconf-2", "model_patch": "\xff\xfe"}\n',
            "line 3",
            "not UTF-8",
        ),
        (b'{"model_patch": "x"}\n', "line 1", "instance_id"),
    ],
)
def test_grade_refuses_a_broken_predictions_file_naming_the_line(
    content: bytes,
    where: str,
    why: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    preds = tmp_path / "preds.jsonl"
    preds.write_bytes(content)
    run = tmp_path / "run"
    argv = ["bench", "grade", "--predictions", str(preds), "--suite", "swe-mini"]
    code, err = ale([*argv, "--run-dir", str(run)], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{preds} {where}: " in err and why in err and "not graded" in err, err
    assert not run.exists()


@pytest.fixture()
def broken_suite(tmp_path: Path) -> TaskFolderSuite:
    """A Terminal-Bench folder whose only task has an unreadable task.yaml."""
    task = tmp_path / "tasks" / "broken-yaml"
    shutil.copytree(TB_MINI / "log-retention-script", task)
    (task / "task.yaml").write_text("instruction: [unclosed\n  max_agent_timeout_sec: x\n")
    return TaskFolderSuite(tmp_path / "tasks")


def test_broken_task_file_is_a_task_error_never_retried(
    broken_suite: TaskFolderSuite, tmp_path: Path
) -> None:
    runners = {
        "run": AgentRunner(broken_suite, AgentConfig.load("terminal"), lambda: None),
        "grade": PatchRunner(broken_suite, {"broken-yaml": "diff"}),
    }
    for kind, runner in runners.items():
        store = RunStore(tmp_path / kind)
        report = run_bench(
            store, ["broken-yaml"], runner, "m", show_progress=False, collect_orphans=False
        )
        (result,) = store.results()
        assert result.status == "task_error" and result.infra_retries == 0, result
        assert "task.yaml" in (result.error or "")
        assert report["error_instances"] == 1 and report["empty_patch_instances"] == 0
        assert swebench_report([result], ["broken-yaml"])["error_ids"] == ["broken-yaml"]


@pytest.mark.parametrize("backend", backend_params())
def test_bench_concurrent_closes_its_sandboxes_on_failure(backend: str) -> None:
    import secrets

    from bench.perf.sandbox import bench_concurrent
    from envs.rock.gc import list_all

    token = secrets.token_hex(6)
    spec = SandboxSpec(image=DEFAULT_IMAGE, user="no-such-user", labels={"ale.test.perf": token})
    with pytest.raises(SandboxError):  # every shell fails to start: a user the image lacks
        bench_concurrent(backend, 3, 2, spec)
    assert [r.id for r in list_all() if r.labels.get("ale.test.perf") == token] == []
