"""A sandbox's `SandboxPolicy` as Docker engine settings, and the engine calls that need them.

* network `none` and `allowlist`: `--network none` (loopback only, no route out). For
  `allowlist` the egress proxy and DNS are bound inside the container's network namespace
  from the host (`envs.rock.egress`), `/etc/resolv.conf` names them (`--dns 127.0.0.1`) and
  the proxy settings are in the container's environment. `open`: the default bridge network.
* paths: `hidden` are added to the engine's masked paths (runc binds `/dev/null` over a file,
  an empty read-only tmpfs over a directory), `read_only` to its read-only paths (a read-only
  bind of the path onto itself); both keep Docker's defaults, which the API replaces otherwise.
  `read_only_root`: `--read-only` with an anonymous volume per writable path, which the engine
  fills with the image's content there.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import Any

from docker.types import Mount

from envs.rock.api import SandboxSpec
from envs.rock.egress import proxy_env, rules_path
from envs.rock.home import ale_home
from envs.rock.policy import SandboxPolicy

#: Docker's own defaults (moby `oci/defaults.go`): the API replaces them when we set any.
DOCKER_MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
DOCKER_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
#: Arguments of the engine's create call; the rest are host-config settings.
_CREATE_KEYS = ("command", "stdin_open", "labels", "environment", "working_dir")
LABEL_POLICY = "ale.policy"
#: Names the sandbox's egress audit log; the same across restores (a new container each).
LABEL_AUDIT = "ale.audit"


def container_env(spec: SandboxSpec) -> dict[str, str]:
    """The container's environment: the spec's, over the proxy settings for `allowlist`."""
    return {**proxy_env(), **spec.env} if spec.network == "allowlist" else dict(spec.env)


def policy_options(spec: SandboxSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """(docker-py host-config keyword arguments, raw HostConfig keys) for the spec's policy."""
    kwargs: dict[str, Any] = {"network_mode": "bridge" if spec.network == "open" else "none"}
    if spec.network == "allowlist":
        kwargs["dns"] = ["127.0.0.1"]
    paths = spec.policy.paths
    raw: dict[str, Any] = {}
    if paths.hidden or paths.read_only:
        raw["MaskedPaths"] = [*DOCKER_MASKED_PATHS, *paths.hidden]
        raw["ReadonlyPaths"] = [*DOCKER_READONLY_PATHS, *paths.read_only]
    if paths.read_only_root:
        kwargs["read_only"] = True
        kwargs["mounts"] = [
            Mount(p, None, type="volume") for p in paths.writable_under_ro_root(spec.workdir)
        ]
    return kwargs, raw


def create_container(client: Any, image: str, kwargs: dict[str, Any], raw: dict[str, Any]) -> Any:
    """`client.containers.create(image, **kwargs)` with raw HostConfig keys added (the SDK
    has no argument for masked and read-only paths). Never pulls from a registry."""
    create = {k: kwargs[k] for k in _CREATE_KEYS if k in kwargs}
    host = {k: v for k, v in kwargs.items() if k not in _CREATE_KEYS}
    host_config = client.api.create_host_config(**host)
    host_config.update(raw)
    cid = client.api.create_container(image, host_config=host_config, **create)["Id"]
    return client.containers.get(cid)


def with_audit_label(spec: SandboxSpec) -> SandboxSpec:
    """`spec` with a fresh audit-log key among its labels (kept if it has one)."""
    if LABEL_AUDIT in spec.labels:
        return spec
    return dataclasses.replace(spec, labels={**spec.labels, LABEL_AUDIT: secrets.token_hex(8)})


def audit_path(labels: dict[str, str]) -> Path:
    """Where the egress helper of the sandbox with these labels writes its audit log."""
    key = "".join(c for c in labels.get(LABEL_AUDIT, "none") if c.isalnum())
    return ale_home() / "egress" / f"docker-{key}.jsonl"


def remove_audit(labels: dict[str, str]) -> None:
    """Delete the audit log, helper log and rule files of a removed sandbox."""
    path = audit_path(labels)
    rules = rules_path(path)
    for p in (path, path.with_suffix(".log"), rules, rules.with_suffix(".ack")):
        p.unlink(missing_ok=True)


def policy_label(policy: SandboxPolicy) -> dict[str, str]:
    """A label that lets `DockerSandbox.attach` rebuild the policy."""
    return {LABEL_POLICY: json.dumps(policy.to_dict(), separators=(",", ":"))}


def policy_from_labels(labels: dict[str, str]) -> SandboxPolicy:
    text = labels.get(LABEL_POLICY)
    return SandboxPolicy.from_dict(json.loads(text)) if text else SandboxPolicy()
