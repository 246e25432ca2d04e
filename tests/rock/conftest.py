from __future__ import annotations

from collections.abc import Iterator

import pytest

from envs.rock import Sandbox, SandboxSpec
from envs.rock.factory import create_sandbox
from tests.conftest import backend_params


@pytest.fixture(params=backend_params(), scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def shared_sandbox(backend: str) -> Iterator[Sandbox]:
    """One sandbox per module and backend, for tests that leave it usable."""
    sb = create_sandbox(SandboxSpec(memory_mb=1024), backend)
    yield sb
    sb.close()


@pytest.fixture()
def make_sandbox(backend: str) -> Iterator[object]:
    """Factory for fresh sandboxes (closed at test end): `make_sandbox(memory_mb=128)`."""
    made: list[Sandbox] = []

    def make(**overrides: object) -> Sandbox:
        sb = create_sandbox(SandboxSpec(**overrides), backend)  # type: ignore[arg-type]
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.close()
