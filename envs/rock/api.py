"""The sandbox contract (ARCHITECTURE.md section 1): spec, results, and the `Sandbox` protocol.

Every backend (docker, local/bubblewrap, Ray-placed) returns objects that satisfy `Sandbox`;
callers never import a backend class directly, they call `envs.rock.create_sandbox(spec)`.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from envs.rock.errors import SandboxError
from envs.rock.policy import NetworkMode, SandboxPolicy
from envs.rock.reads import DOWNLOAD_LIMIT, READ_LIMIT

#: Label keys written on every sandbox we start (docker labels, local state files).
LABEL_APP = "ale.app"
LABEL_OWNER_HOST = "ale.owner.host"
LABEL_OWNER_PID = "ale.owner.pid"
LABEL_OWNER_UID = "ale.owner.uid"
LABEL_EXPIRES_AT = "ale.expires_at"
LABEL_BACKEND = "ale.backend"
#: The bench run a sandbox belongs to (`ale bench run`/`grade` label theirs; `gc --run`).
LABEL_RUN = "ale.bench.run"
APP_NAME = "ale-gym"
DETACHED_PID = "0"
#: Extra labels for every sandbox this process (and its children) starts: `key=value,...`
#: (e.g. a CI job or test session id, so its cleanup can be scoped with `gc.GcScope(labels=)`).
ENV_EXTRA_LABELS = "ALE_SANDBOX_LABELS"

DEFAULT_IMAGE = "ale-base:bookworm"
DEFAULT_OUTPUT_LIMIT = 64 * 1024  # bytes kept per command output (head + tail)


@dataclass(frozen=True)
class SandboxSpec:
    """What to start. Units: `cpus` in cores, `memory_mb` in MiB, `ttl_s` in seconds.

    `memory_mb` also caps swap (swap == memory, so no swap beyond it). `policy` holds the
    network and filesystem permissions (`envs.rock.policy`; network `none` by default: no
    interface but loopback). `command_timeout_s` caps every `run`'s timeout. `labels` are
    added to ours (see `owner_labels`).
    `user` runs every shell session, except those named in `session_users` ({session name:
    user}), which run as theirs: a task's agent shell as one user, its grader as another.
    """

    image: str = DEFAULT_IMAGE
    cpus: float = 1.0
    memory_mb: int = 1024
    pids_limit: int = 256
    disk_mb: int | None = None
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/root"
    user: str = "root"
    session_users: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ttl_s: float = 3600.0
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    command_timeout_s: float | None = None

    @property
    def network(self) -> NetworkMode:
        """The network mode (`policy.network.mode`)."""
        return self.policy.network.mode

    def timeout(self, asked: float) -> float:
        """The timeout a `run` gets: `asked`, capped by `command_timeout_s`."""
        return min(asked, self.command_timeout_s) if self.command_timeout_s else asked

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; `SandboxSpec.from_dict` reads it back."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["policy"] = self.policy.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxSpec:
        data = dict(data)
        network = data.pop("network", None)  # state written before policies existed
        policy = SandboxPolicy.from_dict(data.pop("policy", None) or {"network": network or "none"})
        return cls(**data, policy=policy)


@dataclass(frozen=True)
class ExecResult:
    """The result of one `Sandbox.run`.

    `output` is stdout and stderr interleaved as the shell wrote them, decoded as UTF-8 with
    `errors="replace"` (`raw` keeps the bytes). When more than `output_limit` bytes were
    written, `output` keeps the head and the tail with a marker line between them and
    `truncated` is True; `output_bytes` is the full size written. `exit_code` is the shell's
    `$?`: 124 for a command killed at its timeout (`timed_out` True), like coreutils timeout.
    `oom_killed` is True when the sandbox's memory limit made the kernel kill a process.
    """

    exit_code: int
    raw: bytes
    truncated: bool = False
    timed_out: bool = False
    duration_s: float = 0.0
    output_bytes: int = 0
    session_restarted: bool = False
    oom_killed: bool = False

    @property
    def output(self) -> str:
        return self.raw.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class Sandbox(Protocol):
    """An isolated Linux userland reached only through this API.

    `run` executes in a persistent shell session named `session` (cwd, exports and shell
    variables survive between calls; sessions are created on first use). Paths are paths
    inside the sandbox. All methods raise `envs.rock.errors.SandboxError` subclasses.
    """

    @property
    def id(self) -> str: ...

    @property
    def spec(self) -> SandboxSpec: ...

    def run(self, command: str, timeout: float = 60.0, session: str = "default") -> ExecResult: ...

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None: ...

    def read(self, path: str, max_bytes: int = READ_LIMIT) -> bytes:
        """The bytes of the file at `path`, streamed; over `max_bytes` it raises
        `ReadLimitExceeded` (a `SandboxFileError`) instead of allocating them."""
        ...

    def upload(self, local_path: str | Path, path: str) -> None:
        """Copy a host file or directory tree into the sandbox at `path`."""
        ...

    def download(self, path: str, local_path: str | Path, max_bytes: int = DOWNLOAD_LIMIT) -> None:
        """Copy a sandbox file or directory tree to the host at `local_path`, streamed to disk
        (at most `max_bytes` of content); links that would reach outside `local_path`, hard
        links, devices and FIFOs are dropped with a warning (`envs.rock.hostcopy`)."""
        ...

    def snapshot(self) -> str:
        """Freeze the filesystem; returns a snapshot id usable with `restore`."""
        ...

    def restore(self, snapshot_id: str) -> None:
        """Reset the filesystem to the snapshot; shell sessions restart in their last cwd."""
        ...

    def alive(self) -> bool: ...

    def audit(self) -> list[dict[str, Any]]:
        """The egress audit log: one dict per allowed or refused connection attempt
        (`envs.rock.egress.audit`); [] for a sandbox without egress (network `none`)."""
        ...

    def set_allowlist(self, rules: Sequence[str]) -> None:
        """Replace the egress allowlist of this running `allowlist` sandbox (for example, the
        package index while grading installs run); effective when this returns. `SandboxPolicyError`
        for another network mode or a bad rule. A restore goes back to the spec's rules."""
        ...

    def close(self) -> None:
        """Stop and remove the sandbox. Safe to call twice."""
        ...


def owner_labels(spec: SandboxSpec, backend: str) -> dict[str, str]:
    """Labels that let `gc` find this sandbox's owner and expiry after the driver died.

    The owner is this process (host, pid and uid) unless `spec.labels` names another pid;
    pid "0" marks a detached sandbox (`ale sandbox create`) that only its TTL ends. `gc`
    touches only sandboxes of its own host and uid unless told otherwise (`gc.GcScope`).
    `$ALE_SANDBOX_LABELS` (`key=value,...`) adds labels under `spec.labels`.
    """
    return {
        **env_labels(),
        **spec.labels,
        LABEL_APP: APP_NAME,
        LABEL_BACKEND: backend,
        LABEL_OWNER_HOST: socket.gethostname(),
        LABEL_OWNER_PID: spec.labels.get(LABEL_OWNER_PID, str(os.getpid())),
        LABEL_OWNER_UID: str(os.getuid()),
        LABEL_EXPIRES_AT: f"{time.time() + spec.ttl_s:.0f}",
    }


def env_labels() -> dict[str, str]:
    """The labels `$ALE_SANDBOX_LABELS` asks for (`key=value,...`; empty or unset: none)."""
    raw = os.environ.get(ENV_EXTRA_LABELS, "")
    out = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SandboxError(
                f"{ENV_EXTRA_LABELS}={raw!r}: write key=value pairs separated by commas"
            )
        out[key.strip()] = value.strip()
    return out


def is_orphan(labels: dict[str, str], now: float | None = None) -> bool:
    """True when the sandbox's TTL has passed or its owner process on this host is gone."""
    now = time.time() if now is None else now
    if float(labels.get(LABEL_EXPIRES_AT, "0")) <= now:
        return True
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return False  # another host's driver: only its TTL can tell
    pid = labels.get(LABEL_OWNER_PID, "0")
    if pid == DETACHED_PID:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False
