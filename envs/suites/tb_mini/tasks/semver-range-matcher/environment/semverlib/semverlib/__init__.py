"""Semantic versions and npm-style ranges; see README.md for the contract."""

from .semver import Version, compare, max_satisfying, parse, satisfies

__all__ = ["Version", "compare", "max_satisfying", "parse", "satisfies"]
