"""Fixtures shared by the suite tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from envs.rock import Sandbox


@pytest.fixture()
def sandboxes() -> Iterator[list[Sandbox]]:
    """Sandboxes a test starts; all closed at its end."""
    made: list[Sandbox] = []
    yield made
    for sb in made:
        sb.close()
