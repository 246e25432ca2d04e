"""The data model of the swe-mini generator: repositories, their history, and task instances.

A repository is a folder of plain files (`trees/<name>/`, its content at its last commit) plus a
list of `Commit`s. Each commit names the files it adds (globs over the tree) and the `Change`s it
made to files that already existed; a file's content at an earlier commit is recovered by undoing
the changes of every later commit, newest first. An `Instance` is a bug at one of those commits:
the `fix` changes make the gold `patch`, the `tests` changes make the `test_patch`.
"""

from __future__ import annotations

from dataclasses import dataclass

DIFFICULTIES = ("easy", "medium", "hard")


class CatalogError(ValueError):
    """The catalog is inconsistent (a change does not apply, an unknown commit, ...)."""


@dataclass(frozen=True)
class Person:
    """A commit author (also used as the committer)."""

    name: str
    email: str


@dataclass(frozen=True)
class Change:
    """Replace `before` (which must occur exactly once) with `after` in `path`.

    `before=""` appends `after` to the file, creating it when it does not exist.
    """

    path: str
    before: str
    after: str

    def apply(self, text: str | None) -> str:
        """`text` (None: no such file) with the change made."""
        if not self.before:
            return (text or "") + self.after
        if text is None:
            raise CatalogError(f"{self.path}: no such file to change")
        count = text.count(self.before)
        if count != 1:
            raise CatalogError(
                f"{self.path}: expected one occurrence of {self.before[:60]!r}, found {count}"
            )
        return text.replace(self.before, self.after)

    def undo(self, text: str) -> str:
        """`text` as it was before the change."""
        if not self.before:
            if not text.endswith(self.after):
                raise CatalogError(
                    f"{self.path}: does not end with the appended {self.after[:60]!r}"
                )
            return text[: len(text) - len(self.after)]
        count = text.count(self.after)
        if count != 1:
            raise CatalogError(
                f"{self.path}: expected one occurrence of {self.after[:60]!r} to undo, found {count}"
            )
        return text.replace(self.after, self.before)


@dataclass(frozen=True)
class Commit:
    """One commit of a repository's history.

    `add`: glob patterns (relative to the tree) of the files this commit creates; `changes`: what
    it changed in files that existed before it. Author and committer are the same person, and
    both dates are `date` (ISO 8601 with a UTC offset).
    """

    key: str
    message: str
    date: str
    add: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    tag: str | None = None
    author: Person | None = None


@dataclass(frozen=True)
class Instance:
    """A bug at commit `base` of its repository, and how it was reported, fixed and tested.

    `fail_to_pass` lists the pytest node ids the test patch adds or changes that fail before the
    fix; PASS_TO_PASS is computed by running the touched test files.
    """

    number: int
    base: str
    version: str
    created_at: str
    summary: str
    difficulty: str
    problem_statement: str
    fix: tuple[Change, ...]
    tests: tuple[Change, ...]
    fail_to_pass: tuple[str, ...]
    hints_text: str = ""


@dataclass(frozen=True)
class RepoDef:
    """A repository: where its files are, its history, its instances."""

    name: str
    maintainer: Person
    commits: tuple[Commit, ...]
    instances: tuple[Instance, ...]
    owner: str = "ale-gym"
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def instance_id(self, instance: Instance) -> str:
        return f"{self.owner}__{self.name}-{instance.number}"

    def commit(self, key: str) -> Commit:
        for commit in self.commits:
            if commit.key == key:
                return commit
        raise CatalogError(f"{self.name}: no commit {key!r}")
