"""Shared fixtures: sandbox backends, markers, and the GPU skip reason."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BACKEND_MARKS = {"docker": pytest.mark.docker, "local": pytest.mark.local}


def backend_params() -> list[object]:
    """`pytest.param` per sandbox backend, marked so `-m "not local"` deselects one."""
    return [pytest.param(name, marks=mark, id=name) for name, mark in BACKEND_MARKS.items()]


@pytest.fixture(scope="session")
def cpu_threads() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("ALE_TEST_THREADS", "1")))
