"""Orphan collection: remove sandboxes whose TTL passed or whose driver process died.

Docker containers and snapshot images are found by our labels; local sandboxes by their
state directories. A gc only ever touches what its `GcScope` covers: by default, sandboxes
created on this host by this user (uid); `--run RUN` and `--owner PID` narrow that, and only
an explicit `--all` reaches other users' and other hosts' sandboxes on a shared engine.
Within the scope it removes orphans (`is_orphan`, or exited), or everything with `live`.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from envs.rock.api import (
    APP_NAME,
    LABEL_APP,
    LABEL_BACKEND,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_UID,
    is_orphan,
)


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


@dataclass(frozen=True)
class GcScope:
    """Which of our sandboxes a gc may touch (by their labels).

    By default those created on this host by this uid. `labels`: only those carrying all of
    these (e.g. `{LABEL_RUN: run_id}`); `owner_pid`: only those whose owner is that process of
    this host; `any_owner`: drop the host and uid condition (`ale sandbox gc --all`).
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    owner_pid: int | None = None
    any_owner: bool = False

    def covers(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.labels.items()):
            return False
        mine = labels.get(LABEL_OWNER_HOST) == socket.gethostname()
        if self.owner_pid is not None and not (
            mine and labels.get(LABEL_OWNER_PID) == str(self.owner_pid)
        ):
            return False
        return self.any_owner or (mine and labels.get(LABEL_OWNER_UID) == str(os.getuid()))


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
        from envs.rock.local_state import list_local_sandboxes, local_sandbox_status
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
        from envs.rock.docker_policy import remove_audit

        with contextlib.suppress(docker.errors.NotFound):
            client().containers.get(record.id).remove(force=True)
        remove_audit(record.labels)
    elif record.backend == "local":
        from envs.rock.local_state import remove_local_sandbox

        remove_local_sandbox(record.id)


def _snapshot_images(scope: GcScope, live: bool) -> list[str]:
    from envs.rock.docker_backend import client
    from envs.rock.errors import BackendUnavailable

    try:
        images = client().images.list(filters={"label": f"{LABEL_APP}={APP_NAME}"})
    except BackendUnavailable:
        return []
    removed = []
    for image in images:
        labels = dict(image.labels or {})
        if labels.get(LABEL_BACKEND) and scope.covers(labels) and (live or is_orphan(labels)):
            try:
                client().images.remove(image.id, force=True)
                removed.append(image.short_id)
            except Exception:  # in use by a live container: next gc
                continue
    return removed


def collect(scope: GcScope | None = None, live: bool = False) -> list[SandboxRecord]:
    """Remove the orphans that `scope` covers (default: this host's and this uid's), or with
    `live` every sandbox it covers; returns what was removed."""
    scope = scope or GcScope()
    removed = []
    for record in list_all():
        if not scope.covers(record.labels):
            continue
        if live or record.orphan or record.status in ("exited", "dead"):
            remove(record)
            removed.append(record)
    _snapshot_images(scope, live)
    return removed
