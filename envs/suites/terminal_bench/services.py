"""The sidecar services of a task's docker-compose.yaml, run beside its sandbox (docker only).

There is no `docker compose` on these machines, so ALE-Gym runs the services itself. Each
sidecar is a container that joins the sandbox's network and process namespaces:

* network: the sandbox's own, which has only loopback (the sandbox stays offline); every
  service, `main` included, is `127.0.0.1` by name in the sandbox's `/etc/hosts`, which the
  joined containers share. Differences from compose's private network: the services share
  one `localhost`, so two services cannot listen on the same port;
* processes: when the sandbox is removed its PID 1 exits, the kernel ends every process of
  the namespace, and the sidecars (`auto_remove`) go with it: nothing outlives the sandbox
  (gc also finds them by our labels). The agent can see the services' processes in `ps`.

Order follows `depends_on`; a service with a `healthcheck` must be healthy, the others
running, before the agent starts (compose's `up --wait`, which Harbor uses).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envs.core.errors import TaskError
from envs.rock import Sandbox, SandboxError
from envs.rock.api import owner_labels
from envs.rock.image_build import build_task_image, default_ca_bundle
from envs.suites.terminal_bench.compose import Service
from envs.suites.terminal_bench.sessions import SETUP_SESSION

if TYPE_CHECKING:
    from envs.suites.terminal_bench.task import FolderTask

START_TIMEOUT_S = 120.0
LABEL_COMPANION = "ale.companion.of"


def _sidecars(task: FolderTask) -> tuple[Service, ...]:
    compose = task.config.compose
    return compose.sidecars if compose is not None else ()


def service_image(task: FolderTask, service: Service) -> str:
    """The local image a sidecar runs: its build's tag, or its `image` through the FROM map."""
    from envs.suites.terminal_bench.task_image import resolve_bases

    if service.build_context is None:
        image = str(service.image)
        return resolve_bases(f"FROM {image}\n", task.from_map).get(image, image)
    repo, _, tag = task.image.partition(":")
    name = re.sub(r"[^a-z0-9._-]+", "-", service.name.lower())
    return f"{repo}-{name}:{tag}"


def ensure_images(task: FolderTask, backend: str) -> None:
    """Build each sidecar's image (FROM map, network and CA bundle as the task's own)."""
    from envs.suites.terminal_bench.task_image import ensure_bases, resolve_bases

    ca = task.ca_bundle or default_ca_bundle()
    for service in _sidecars(task):
        image = service_image(task, service)
        if service.build_context is None:
            ensure_bases(task.id, {str(service.image): image}, task.build_network, ca)
            continue
        dockerfile = service.dockerfile or "Dockerfile"
        text = (service.build_context / dockerfile).read_text(encoding="utf-8")
        bases = resolve_bases(text, task.from_map)
        ensure_bases(task.id, bases, task.build_network, ca)
        with tempfile.TemporaryDirectory(prefix="ale-svc-ctx-") as tmp:
            ctx = Path(tmp) / "ctx"
            shutil.copytree(service.build_context, ctx, symlinks=True)
            try:
                build_task_image(
                    ctx,
                    image,
                    dockerfile=dockerfile,
                    from_map=bases or {"*": ""},
                    network=task.build_network,
                    ca_bundle=ca if task.build_network else None,
                    build_args=service.build_args,
                    timeout_s=task.config.build_timeout_s,
                )
            except SandboxError as exc:
                raise TaskError(
                    f"{task.id}: building service {service.name!r} failed: {exc}"
                ) from exc


def _container(sandbox: Sandbox) -> Any:
    import docker.errors

    from envs.rock.docker_backend import client

    try:
        return client().containers.get(sandbox.id)
    except docker.errors.NotFound as exc:
        raise TaskError(
            f"services run beside a sandbox of this machine's docker engine; {sandbox.id} is "
            "not one (use --backend docker)"
        ) from exc


def _order(services: tuple[Service, ...]) -> list[Service]:
    by_name, done, out = {s.name: s for s in services}, set(), []

    def visit(s: Service, path: tuple[str, ...]) -> None:
        if s.name in done:
            return
        if s.name in path:
            raise TaskError(f"docker-compose depends_on cycle: {' -> '.join((*path, s.name))}")
        for dep in s.depends_on:
            if dep in by_name:
                visit(by_name[dep], (*path, s.name))
        done.add(s.name)
        out.append(s)

    for s in services:
        visit(s, ())
    return out


def _health(service: Service) -> dict[str, Any] | None:
    h = service.healthcheck
    if h is None or not h.test:
        return None
    ns = 1_000_000_000
    return {
        "test": h.test,
        "interval": int(h.interval_s * ns),
        "timeout": int(h.timeout_s * ns),
        "retries": h.retries,
        "start_period": int(h.start_period_s * ns),
    }


def start(task: FolderTask, sandbox: Sandbox) -> None:
    """Start the sidecars beside `sandbox` and name them in its /etc/hosts."""
    sidecars = _sidecars(task)
    if not sidecars:
        return
    main = _container(sandbox)
    names = " ".join(["main", *(s.name for s in sidecars)])
    r = sandbox.run(f"echo '127.0.0.1 {names}' >> /etc/hosts", timeout=30, session=SETUP_SESSION)
    if not r.ok:
        raise TaskError(f"{task.id}: cannot name the services in /etc/hosts: {r.output[-300:]}")
    labels = {
        **owner_labels(sandbox.spec, "docker"),
        LABEL_COMPANION: main.id[:12],
        "ale.service": "",
    }
    started = []
    for service in _order(sidecars):
        labels["ale.service"] = service.name
        try:
            started.append(
                (
                    service,
                    main.client.containers.run(
                        service_image(task, service),
                        command=service.command,
                        entrypoint=service.entrypoint,
                        environment=service.environment,
                        working_dir=service.working_dir,
                        user=service.user or "",
                        network_mode=f"container:{main.id}",
                        pid_mode=f"container:{main.id}",
                        healthcheck=_health(service),
                        labels=dict(labels),
                        detach=True,
                        auto_remove=True,
                    ),
                )
            )
        except Exception as exc:
            raise TaskError(f"{task.id}: service {service.name!r} did not start: {exc}") from exc
        _wait(task.id, *started[-1])


def _wait(task_id: str, service: Service, container: Any) -> None:
    deadline = (
        time.monotonic()
        + START_TIMEOUT_S
        + (service.healthcheck.start_period_s if service.healthcheck else 0.0)
    )
    while time.monotonic() < deadline:
        try:
            container.reload()
        except Exception as exc:  # auto-removed: it exited
            raise TaskError(f"{task_id}: service {service.name!r} exited at start") from exc
        state = container.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        if state.get("Status") == "exited":
            raise TaskError(f"{task_id}: service {service.name!r} exited at start")
        if state.get("Status") == "running" and health in (None, "healthy"):
            return
        time.sleep(0.2)
    raise TaskError(
        f"{task_id}: service {service.name!r} was not ready within {START_TIMEOUT_S:g} s"
    )


def exec_in(task: FolderTask, sandbox: Sandbox, service: str, command: str, timeout: float) -> str:
    """Run `command` in sidecar `service` (Harbor's collect hooks); its output."""
    main = _container(sandbox)
    found = main.client.containers.list(
        filters={"label": [f"{LABEL_COMPANION}={main.id[:12]}", f"ale.service={service}"]}
    )
    if not found:
        raise TaskError(f"{task.id}: no running service {service!r}")
    result = found[0].exec_run(["timeout", str(int(max(timeout, 1))), "/bin/sh", "-c", command])
    return bytes(result.output or b"").decode("utf-8", "replace")
