"""Re-open a running sandbox by id from another process (`ale sandbox exec`)."""

from __future__ import annotations

from envs.rock.api import Sandbox
from envs.rock.errors import SandboxDead


def attach(sandbox_id: str) -> Sandbox:
    """A handle on a running sandbox of ours; its shell sessions start fresh."""
    from envs.rock.gc import list_all

    matches = [r for r in list_all() if r.id.startswith(sandbox_id)]
    if len(matches) != 1:
        found = ", ".join(r.id for r in matches) or "none"
        raise SandboxDead(
            f"{len(matches)} sandboxes match {sandbox_id!r} ({found}): see `ale sandbox ls`"
        )
    record = matches[0]
    if record.backend == "docker":
        from envs.rock.docker_backend import DockerSandbox

        return DockerSandbox.attach(record.id)
    from envs.rock.local_backend import LocalSandbox

    return LocalSandbox.attach(record.id)  # type: ignore[attr-defined,no-any-return]
