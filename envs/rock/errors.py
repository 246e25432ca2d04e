"""Sandbox errors: one base class, few subclasses, and messages that name the fix."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """Base class of every error raised by `envs.rock`."""


class BackendUnavailable(SandboxError):
    """The backend cannot start sandboxes here (no Docker engine, no bubblewrap, ...)."""


class ImageNotFound(SandboxError):
    """The image (or local root filesystem) a spec names does not exist on this machine."""


class SandboxDead(SandboxError):
    """The sandbox stopped (killed, TTL expired, engine restarted) while in use."""


class CommandKilledSandbox(SandboxDead):
    """The sandbox died while `run` ran a command, and nothing the caller could not control
    explains it (its TTL had not passed, the engine still answers and saw it die, it was not
    closed): the command, or what it started, is the cause. `ChunkEnv` counts it as the
    agent's failure (reward 0, `info["sandbox_lost"] == "agent"`), never as infrastructure."""


class SandboxFileError(SandboxError):
    """A file operation failed: missing path, permission, not a directory."""
