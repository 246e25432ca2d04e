"""A task's `docker-compose.yaml`: the agent's service and its sidecar services.

Terminal-Bench (`client` service, `${T_BENCH_*}` variables) and Harbor (`main` service,
`${CONTEXT_DIR}`, `${MAIN_IMAGE_NAME}`, `${TEST_DIR}`, ...) both describe the agent's
container and any extra services in one compose file. There is no `docker compose` here: the
sidecars run as companion containers of the sandbox, in its private network namespace
(loopback only, no route out), each reachable from the others by its service name (an
`/etc/hosts` entry for 127.0.0.1), and they are removed with the sandbox.

What a service may use: `build` (context, dockerfile, args), `image`, `command`, `entrypoint`,
`environment`, `env_file`, `working_dir`, `user`, `depends_on`, `healthcheck`. Ignored as
harmless: `container_name`, `ports`, `expose`, `networks`, `restart`, `platform`, `deploy`,
`init`, `tty`, `stdin_open`, `hostname`, `labels`, `logging`, `pull_policy`, and the
harness's own log `volumes`. Refused (task error): other `volumes`, `privileged`, `cap_add`,
`devices`, `network_mode`, `pid`, `ipc`, `security_opt`, a second service without `build` or
`image`. Any other key is a warning.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envs.core.errors import TaskError

#: Values the harnesses give their compose variables (paths inside the containers).
COMPOSE_VARS: dict[str, str] = {
    "T_BENCH_TEST_DIR": "/tests",
    "T_BENCH_CONTAINER_LOGS_PATH": "/logs",
    "T_BENCH_CONTAINER_AGENT_LOGS_PATH": "/agent-logs",
    "T_BENCH_TASK_DOCKER_NAME_PREFIX": "ale",
    "TEST_DIR": "/tests",
    "ENV_VERIFIER_LOGS_PATH": "/logs/verifier",
    "ENV_AGENT_LOGS_PATH": "/logs/agent",
    "ENV_ARTIFACTS_PATH": "/logs/artifacts",
}
HANDLED = {
    "build",
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "working_dir",
    "user",
    "depends_on",
    "healthcheck",
    "volumes",
}
IGNORED = {
    "container_name",
    "ports",
    "expose",
    "networks",
    "restart",
    "platform",
    "deploy",
    "init",
    "tty",
    "stdin_open",
    "hostname",
    "labels",
    "logging",
    "pull_policy",
    "mem_limit",
    "cpus",
    "shm_size",
    "stop_grace_period",
}
REFUSED = {"privileged", "cap_add", "devices", "network_mode", "pid", "ipc", "security_opt"}
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")


@dataclass(frozen=True)
class ServiceHealth:
    """A compose `healthcheck` (Docker's units: seconds)."""

    test: list[str]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class Service:
    """One compose service. `build_context` None: the service runs `image` as it is."""

    name: str
    build_context: Path | None = None
    dockerfile: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    depends_on: tuple[str, ...] = ()
    healthcheck: ServiceHealth | None = None


@dataclass(frozen=True)
class ComposeFile:
    """`main`: the agent's service (its build and environment); `sidecars`: the others."""

    path: Path
    main: Service
    sidecars: tuple[Service, ...] = ()
    warnings: tuple[str, ...] = ()


def interpolate(value: Any, variables: dict[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `$VAR` and `$$`, in every string of `value`."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1) or m.group(3)
            found = variables.get(name, os.environ.get(name))
            return found if found not in (None, "") else (m.group(2) or "")

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    return value


def duration_s(value: Any) -> float:
    """Compose durations: `30s`, `1m30s`, `500ms`, or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
    parts = _DURATION.findall(str(value))
    if not parts:
        raise ValueError(f"not a duration: {value!r}")
    return sum(float(n) * units[u] for n, u in parts)


def _argv(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return ["/bin/sh", "-c", value]
    return [str(v) for v in value]


def _environment(value: Any, base: Path, env_file: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in [env_file] if isinstance(env_file, str) else list(env_file or []):
        for line in (base / str(name)).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, _, val = line.partition("=")
                out[key.strip()] = val.strip()
    if isinstance(value, dict):
        out.update({str(k): "" if v is None else str(v) for k, v in value.items()})
    elif isinstance(value, list):
        for item in value:
            key, sep, val = str(item).partition("=")
            out[key] = val if sep else os.environ.get(key, "")
    return out


def _health(value: Any) -> ServiceHealth | None:
    if not isinstance(value, dict) or value.get("disable"):
        return None
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    return ServiceHealth(
        test=[str(t) for t in test or []],
        interval_s=duration_s(value.get("interval", 30)),
        timeout_s=duration_s(value.get("timeout", 30)),
        retries=int(value.get("retries", 3)),
        start_period_s=duration_s(value.get("start_period", 0)),
    )


def _service(name: str, raw: dict[str, Any], base: Path, where: str, main: bool) -> Service:
    refused = sorted(REFUSED & set(raw))
    if refused:
        raise TaskError(
            f"{where}: service {name!r} uses {', '.join(refused)}: ALE-Gym runs services as "
            "unprivileged companion containers in the sandbox's own network namespace"
        )
    volumes = [v for v in raw.get("volumes") or [] if not _harness_volume(v)]
    if volumes:
        raise TaskError(
            f"{where}: service {name!r} mounts {volumes[0]!r}: volumes between services or "
            "from the host are not supported (copy the files in with the Dockerfile)"
        )
    build = raw.get("build")
    context = dockerfile = None
    args: dict[str, str] = {}
    if isinstance(build, str):
        context = (base / build).resolve()
    elif isinstance(build, dict):
        context = (base / str(build.get("context") or ".")).resolve()
        dockerfile = build.get("dockerfile")
        args = _environment(build.get("args"), base, None)
    if context is None and not raw.get("image") and not main:
        raise TaskError(f"{where}: service {name!r} has neither build nor image")
    depends = raw.get("depends_on") or []
    try:
        health = _health(raw.get("healthcheck"))
    except ValueError as exc:
        raise TaskError(f"{where}: service {name!r} healthcheck: {exc}") from exc
    return Service(
        name=name,
        build_context=context,
        dockerfile=str(dockerfile) if dockerfile else None,
        build_args=args,
        image=str(raw["image"]) if raw.get("image") and context is None else None,
        command=_argv(raw.get("command")),
        entrypoint=_argv(raw.get("entrypoint")),
        environment=_environment(raw.get("environment"), base, raw.get("env_file")),
        working_dir=str(raw["working_dir"]) if raw.get("working_dir") else None,
        user=str(raw["user"]) if raw.get("user") is not None else None,
        depends_on=tuple(depends if isinstance(depends, list) else list(depends)),
        healthcheck=health,
    )


def _harness_volume(volume: Any) -> bool:
    """The harness's own log mounts (`${T_BENCH_TASK_LOGS_PATH}:...`, Harbor's log dirs)."""
    text = volume if isinstance(volume, str) else str((volume or {}).get("target", ""))
    return any(
        marker in text for marker in ("/logs", "/agent-logs", "T_BENCH_", "LOGS_PATH", "ARTIFACTS")
    )


def load_compose(path: Path, fmt: str) -> ComposeFile:
    """Parse `path`; `fmt` picks the agent's service (`client` for Terminal-Bench, `main`)."""
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TaskError(f"{where}: invalid YAML ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("services") or {}, dict):
        raise TaskError(f"{where}: expected a compose file with a `services:` mapping")
    variables = {**COMPOSE_VARS, "CONTEXT_DIR": str(path.parent)}
    services: dict[str, Any] = interpolate(raw.get("services") or {}, variables)
    warnings = [
        f"{path.name}: top-level key {key!r} is ignored"
        for key in raw
        if key not in ("services", "version", "name", "networks", "volumes")
    ]
    main_name = "main" if fmt == "harbor" else ("client" if "client" in services else None)
    if main_name is None and services:
        main_name = next(iter(services))
    base = path.parent
    parsed = []
    for name, body in services.items():
        if not isinstance(body, dict):
            raise TaskError(f"{where}: service {name!r} must be a mapping")
        warnings += [
            f"{path.name}: service {name!r}: unknown key {key!r}"
            for key in body
            if key not in HANDLED | IGNORED | REFUSED
        ]
        parsed.append(_service(str(name), body, base, where, name == main_name))
    main = next((s for s in parsed if s.name == main_name), Service(name=main_name or "main"))
    if fmt == "harbor" and main.build_context is None:
        main = Service(
            **{**main.__dict__, "build_context": base, "dockerfile": main.dockerfile or None}
        )
    sidecars = tuple(s for s in parsed if s.name != main.name)
    names = {s.name for s in parsed} | {main.name}
    for s in sidecars:
        missing = [d for d in s.depends_on if d not in names]
        if missing:
            raise TaskError(f"{where}: service {s.name!r} depends on unknown {missing[0]!r}")
    return ComposeFile(path=path, main=main, sidecars=sidecars, warnings=tuple(warnings))
