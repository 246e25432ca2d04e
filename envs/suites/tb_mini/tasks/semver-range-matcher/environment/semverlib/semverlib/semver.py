"""Semantic versions and npm-style ranges. Implements the contract in ../README.md."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple = ()
    build: tuple = field(default=(), compare=False)

    def __str__(self) -> str:
        raise NotImplementedError


def parse(text: str) -> Version:
    raise NotImplementedError


def compare(a: str | Version, b: str | Version) -> int:
    raise NotImplementedError


def satisfies(version: str | Version, range_text: str) -> bool:
    raise NotImplementedError


def max_satisfying(versions: list[str], range_text: str) -> str | None:
    raise NotImplementedError
