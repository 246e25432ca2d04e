"""Errors of the `agents` package: one base class, few subclasses, messages that say what to do.

Config mistakes (YAML, overrides, templates) raise the project's one `envs.core.config.ConfigError`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every error raised by `agents`."""


class PolicyError(AgentError):
    """A policy could not be built or could not produce a turn."""
