"""Agent configs: strict keys, typed values, strict templates; errors before any sandbox starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.config import AgentConfig
from envs.core.config import ConfigError


@pytest.mark.parametrize("name", ["swe", "terminal", "toy"])
def test_shipped_configs_load_and_render(name: str) -> None:
    cfg = AgentConfig.load(name)
    variables = {
        "task": "T",
        "task_id": "t",
        "workdir": "/w",
        "tools": [],
        "tool_names": ["bash"],
        "action_format": cfg.action_format,
        "format_help": "H",
        "metadata": {},
        "max_turns": 5,
    }
    assert "T" in cfg.render("instance", **variables)
    assert (
        cfg.render(
            "observation",
            output="OUT",
            exit_code=0,
            turn=1,
            turns_left=2,
            tool="bash",
            format_error=False,
        ).count("OUT")
        == 1
    )


def test_unknown_key_names_nearest(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text("limits:\n  max_turn: 3\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'limits\.max_turn'\. Did you mean 'max_turns'\?"
    ):
        AgentConfig.load(p)
    with pytest.raises(ConfigError, match="Did you mean 'templates'"):
        AgentConfig.from_dict({"tempaltes": {}})


def test_wrong_type_names_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"sampling\.temperature: .*valid number.*'hot'"):
        AgentConfig.from_dict({"sampling": {"temperature": "hot"}})
    with pytest.raises(ConfigError, match=r"action_format"):
        AgentConfig.from_dict({"action_format": "yaml"})


def test_missing_template_variable_is_a_load_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"templates\.instance uses undefined variable\(s\) 'taks' "
        r"\(did you mean 'task'\?\)",
    ):
        AgentConfig.from_dict({"templates": {"instance": "{{ taks }}"}})
    with pytest.raises(ConfigError, match="Jinja syntax error"):
        AgentConfig.from_dict({"templates": {"system": "{% if %}"}})


def test_overrides_and_unknown_name() -> None:
    cfg = AgentConfig.load("swe", overrides=["limits.max_turns=7", "sampling.temperature=0.5"])
    assert cfg.limits.max_turns == 7 and cfg.sampling.temperature == 0.5
    with pytest.raises(ConfigError, match="Did you mean 'swe'"):
        AgentConfig.load("swee")
    with pytest.raises(ConfigError, match="section.key=value"):
        AgentConfig.load("swe", overrides=["nonsense"])


@pytest.mark.parametrize(
    "bad,expect",
    [
        ("limits:\n  max_turn: 3\n", "Did you mean 'max_turns'"),
        ("limits:\n  max_turns: many\n", "limits.max_turns"),
        ("templates:\n  instance: '{{ issue }}'\n", "undefined variable(s) 'issue'"),
    ],
)
def test_ale_run_fails_before_any_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str, expect: str
) -> None:
    import agents.cli
    import envs.rock.factory
    from bench.cli.main import app

    started: list[object] = []
    monkeypatch.setattr(envs.rock.factory, "create_sandbox", lambda *a, **k: started.append(a))
    monkeypatch.setattr(agents.cli, "_make_env", lambda *a, **k: started.append(a))
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(bad)
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--suite",
            "tb-mini",
            "--task",
            "x",
            "--agent",
            str(cfg),
            "--policy",
            "empty",
            "--out",
            str(tmp_path / "t.jsonl"),
        ],
    )
    assert res.exit_code == 2, res.output
    assert expect in " ".join(res.output.split())
    assert started == []
    assert not (tmp_path / "t.jsonl").exists()
