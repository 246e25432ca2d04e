"""Orphan collection: remove sandboxes whose TTL passed or whose driver process died.

Docker containers and snapshot images are found by our labels; local sandboxes by their
state directories. `collect(everything=True)` removes all of ours, orphan or not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from envs.rock.api import APP_NAME, LABEL_APP, LABEL_BACKEND, is_orphan


@dataclass(frozen=True)
class SandboxRecord:
    """One sandbox as `ale sandbox ls` shows it."""

    backend: str
    id: str
    image: str
    status: str
    labels: dict[str, str]

    @property
    def orphan(self) -> bool:
        return is_orphan(self.labels)


def list_docker() -> list[SandboxRecord]:
    """Our containers on the local Docker engine ([] if none answers)."""
    from envs.rock.docker_backend import client
    from envs.rock.errors import BackendUnavailable

    try:
        containers = client().containers.list(  # ignore_removed: one removed meanwhile is no error
            all=True, filters={"label": f"{LABEL_APP}={APP_NAME}"}, ignore_removed=True
        )
    except BackendUnavailable:
        return []
    out = []
    for c in containers:
        image = c.attrs.get("Config", {}).get("Image", "?")
        out.append(SandboxRecord("docker", c.id[:12], image, c.status, dict(c.labels)))
    return out


def list_local() -> list[SandboxRecord]:
    """Our local (bubblewrap) sandboxes on this host."""
    try:
        from envs.rock.local_backend import list_local_sandboxes, local_sandbox_status
    except ImportError:
        return []
    return [
        SandboxRecord("local", sid, labels.get("ale.image", "?"), local_sandbox_status(sid), labels)
        for sid, labels in list_local_sandboxes()
    ]


def list_all() -> list[SandboxRecord]:
    return list_docker() + list_local()


def remove(record: SandboxRecord) -> None:
    """Force-remove one sandbox, whatever its state."""
    if record.backend == "docker":
        import docker.errors

        from envs.rock.docker_backend import client

        with contextlib.suppress(docker.errors.NotFound):
            client().containers.get(record.id).remove(force=True)
    elif record.backend == "local":
        from envs.rock.local_backend import remove_local_sandbox

        remove_local_sandbox(record.id)


def _orphan_snapshot_images(everything: bool) -> list[str]:
    from envs.rock.docker_backend import client
    from envs.rock.errors import BackendUnavailable

    try:
        images = client().images.list(filters={"label": f"{LABEL_APP}={APP_NAME}"})
    except BackendUnavailable:
        return []
    removed = []
    for image in images:
        labels = dict(image.labels or {})
        if labels.get(LABEL_BACKEND) and (everything or is_orphan(labels)):
            try:
                client().images.remove(image.id, force=True)
                removed.append(image.short_id)
            except Exception:  # in use by a live container: next gc
                continue
    return removed


def collect(everything: bool = False) -> list[SandboxRecord]:
    """Remove orphans (or all of ours with `everything`); returns what was removed."""
    removed = []
    for record in list_all():
        if everything or record.orphan or record.status in ("exited", "dead"):
            remove(record)
            removed.append(record)
    _orphan_snapshot_images(everything)
    return removed
