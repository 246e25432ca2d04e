"""Every sandbox a test session starts carries the session's label ($ALE_SANDBOX_LABELS, set
by tests/conftest.py), in this process and in the processes it starts, on both backends: the
session's cleanup is scoped to it and never touches a concurrent session's sandboxes."""

from __future__ import annotations

import os

import pytest

from envs.rock import SandboxError, SandboxSpec
from envs.rock.api import ENV_EXTRA_LABELS, env_labels, owner_labels
from envs.rock.gc import list_all
from tests.conftest import SESSION_ENV, SESSION_LABEL
from tests.rock.test_lifecycle import ale


def _labels_of(sid: str) -> dict[str, str]:
    [record] = [r for r in list_all() if r.id.startswith(sid) or sid.startswith(r.id)]
    return record.labels


def test_sandboxes_here_and_in_subprocesses_carry_the_session_label(make_sandbox: object) -> None:
    session = os.environ[SESSION_ENV]
    sb = make_sandbox()  # type: ignore[operator]
    assert _labels_of(sb.id)[SESSION_LABEL] == session
    backend = _labels_of(sb.id)["ale.backend"]
    sid = ale("sandbox", "create", "--backend", backend, "--ttl", "120").stdout.strip()
    try:
        assert _labels_of(sid)[SESSION_LABEL] == session
    finally:
        ale("sandbox", "rm", sid)


def test_extra_labels_parse_and_bad_values_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_EXTRA_LABELS, " ci.job=42 ,team=rl,")
    assert env_labels() == {"ci.job": "42", "team": "rl"}
    labels = owner_labels(SandboxSpec(labels={"team": "envs"}), "docker")
    assert labels["ci.job"] == "42" and labels["team"] == "envs"  # the spec's own labels win
    monkeypatch.setenv(ENV_EXTRA_LABELS, "ci.job")
    with pytest.raises(SandboxError, match="key=value pairs"):
        env_labels()
    monkeypatch.delenv(ENV_EXTRA_LABELS)
    assert env_labels() == {}
