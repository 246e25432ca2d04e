"""The suite registry: suite names -> factories, so env ids and CLIs can name suites as strings.

Suites register themselves (`envs.suites` registers the shipped ones when `envs` is imported;
a plugin calls `register_suite` the same way); this module imports none of them. A factory
takes `(dataset, split, task_ids)` and imports its suite lazily, so `import envs` stays cheap.
`env_id` (optional) is the Gymnasium id of a `ChunkEnv` over the suite (`envs.registration`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envs.core.errors import EnvError, unknown_id_message

if TYPE_CHECKING:
    from envs.core.task import TaskSuite

SuiteFactory = Callable[[str | None, str, list[str] | None], "TaskSuite"]


@dataclass(frozen=True)
class SuiteEntry:
    """A registered suite: how to build it, and its env id (if it has one)."""

    name: str
    factory: SuiteFactory
    env_id: str | None = None


SUITES: dict[str, SuiteEntry] = {}


def register_suite(name: str, factory: SuiteFactory, env_id: str | None = None) -> None:
    """Make `name` resolvable; a name registered twice is an error (plugins must not shadow)."""
    if name in SUITES:
        raise EnvError(f"suite {name!r} is already registered ({SUITES[name].factory!r})")
    SUITES[name] = SuiteEntry(name, factory, env_id)


def resolve_suite(
    suite: TaskSuite | str,
    dataset: str | None = None,
    split: str = "test",
    task_ids: list[str] | None = None,
) -> TaskSuite:
    """`suite` itself if it is a `TaskSuite`, else the registered suite of that name."""
    if not isinstance(suite, str):
        return suite
    if suite not in SUITES:
        raise EnvError(unknown_id_message("suite", suite, sorted(SUITES)))
    return SUITES[suite].factory(dataset, split, task_ids)
