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


@pytest.fixture(autouse=True, scope="module")
def _remove_task_images() -> Iterator[None]:
    """Task images prepared by a module's tests go when the module ends (they are a cache)."""
    yield
    from tests.suites.swebench_checks import remove_task_images

    remove_task_images()
