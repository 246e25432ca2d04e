"""Fixtures for agent tests: the tiny local model (built once per session) and toy configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import AgentConfig


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    from agents.tiny_model import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture
def toy_agent() -> AgentConfig:
    return AgentConfig.load("toy")
