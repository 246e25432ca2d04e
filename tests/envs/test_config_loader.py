"""The one strict config loader (`envs.core.config`): overrides, did-you-mean, one `ConfigError`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field

from envs.core.config import (
    ConfigError,
    OpenModel,
    StrictModel,
    apply_override,
    load_yaml,
    unknown_keys,
    validate,
)


class Inner(StrictModel):
    max_turns: int = 3
    name: str = "x"


class Toy(StrictModel):
    kind: Literal["toy"] = "toy"
    width: int = 4


class Sandboxed(StrictModel):
    kind: Literal["env"] = "env"
    env_id: str = "ale/TBMini-v0"


class Root(StrictModel):
    limits: Inner = Field(default_factory=Inner)
    task: Annotated[Toy | Sandboxed, Field(discriminator="kind")] = Field(default_factory=Toy)
    maybe: Inner | None = None


def test_overrides_merge_and_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("limits:\n  name: a\n")
    cfg = load_yaml(Root, path, ["limits.max_turns=7", "task.kind=env", "task.env_id=ale/X-v0"])
    assert cfg.limits == Inner(max_turns=7, name="a")
    assert isinstance(cfg.task, Sandboxed) and cfg.task.env_id == "ale/X-v0"
    with pytest.raises(ConfigError, match=r"limits\.max_turns: .*valid integer.*'many'"):
        load_yaml(Root, path, ["limits.max_turns=many"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_yaml(Root, path, ["limits.max_turns"])
    data: dict[str, object] = {"limits": 3}
    with pytest.raises(ConfigError, match="'limits' is a value, not a section"):
        apply_override(data, "limits.max_turns=2")


def test_unknown_keys_name_the_nearest_in_every_section() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown key 'limits\.max_turn'\. Did you mean 'max_turns'"
    ):
        validate(Root, {"limits": {"max_turn": 1}})
    with pytest.raises(ConfigError, match=r"unknown key 'limitz'\. Did you mean 'limits'"):
        validate(Root, {"limitz": {}})
    # the section of a discriminated union is the tagged member's (pydantic puts the tag in loc)
    with pytest.raises(ConfigError, match=r"Did you mean 'env_id'\? Valid keys here: kind, env_id"):
        validate(Root, {"task": {"kind": "env", "env_ids": "x"}})
    with pytest.raises(ConfigError, match=r"Did you mean 'max_turns'"):
        validate(Root, {"maybe": {"max_turnz": 1}})


def test_file_errors_say_what_to_do(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "tiny.yaml").write_text("limits: {max_turns: 2}\n")
    assert load_yaml(Root, "tiny", shipped=shipped).limits.max_turns == 2
    with pytest.raises(ConfigError, match=r"does not exist.*Did you mean 'tiny'"):
        load_yaml(Root, "tinny", shipped=shipped)
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(Root, bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_yaml(Root, bad)


def test_a_caller_can_raise_its_own_error_with_the_same_message() -> None:
    class TaskFileError(Exception):
        pass

    with pytest.raises(
        TaskFileError, match=r"task\.yaml: invalid task file:\n  unknown key 'limits\.x'"
    ):
        validate(Root, {"limits": {"x": 1}}, "task.yaml", "task file", error=TaskFileError)


class Agent(OpenModel):
    timeout_sec: float = 1.0


class TaskFile(OpenModel):
    agent: Agent = Field(default_factory=Agent)


def test_open_models_keep_unknown_keys_as_warnings() -> None:
    parsed = validate(TaskFile, {"agent": {"timeout_secs": 3}, "extra_table": {}})
    assert unknown_keys(parsed) == [
        "unknown key 'extra_table'.",
        "[agent]: unknown key 'timeout_secs'. Did you mean 'timeout_sec'?",
    ]
