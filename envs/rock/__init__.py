"""ROCK-style sandboxes: one small API (`envs.rock.api`), several backends."""

from envs.rock.api import DEFAULT_IMAGE, ExecResult, Sandbox, SandboxSpec
from envs.rock.errors import (
    BackendUnavailable,
    CommandKilledSandbox,
    ImageNotFound,
    SandboxDead,
    SandboxError,
    SandboxFileError,
)

__all__ = [
    "DEFAULT_IMAGE",
    "BackendUnavailable",
    "CommandKilledSandbox",
    "ExecResult",
    "ImageNotFound",
    "Sandbox",
    "SandboxDead",
    "SandboxError",
    "SandboxFileError",
    "SandboxSpec",
]
