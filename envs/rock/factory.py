"""`create_sandbox`: the one way callers get a sandbox, whatever the backend."""

from __future__ import annotations

import os
import shutil
from typing import Literal

from envs.rock.api import Sandbox, SandboxSpec
from envs.rock.errors import BackendUnavailable

BackendName = Literal["docker", "local", "auto"]
BACKENDS = ("docker", "local")


def default_backend() -> str:
    """`$ALE_SANDBOX_BACKEND`, else docker where an engine socket exists, else local."""
    chosen = os.environ.get("ALE_SANDBOX_BACKEND")
    if chosen:
        return chosen
    if os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock"):
        return "docker"
    if shutil.which("bwrap"):
        return "local"
    return "docker"  # its error message says how to get an engine


def create_sandbox(spec: SandboxSpec | None = None, backend: BackendName | str = "auto") -> Sandbox:
    """Start a sandbox. `backend`: "docker", "local" (bubblewrap) or "auto" (see above)."""
    spec = spec or SandboxSpec()
    name = default_backend() if backend == "auto" else backend
    if name == "docker":
        from envs.rock.docker_backend import DockerSandbox

        return DockerSandbox.create(spec)
    if name == "local":
        from envs.rock.local_backend import LocalSandbox

        return LocalSandbox.create(spec)
    raise BackendUnavailable(f"unknown sandbox backend {name!r}; choose one of {BACKENDS}")
