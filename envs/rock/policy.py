"""Sandbox permissions as plain data: what a sandbox may reach on the network and the disk.

`SandboxPolicy` rides on `SandboxSpec.policy` and is enforced by the backend (see
`docs/sandboxes.md`, "Permissions"). Resource limits are the spec's own fields (`cpus`,
`memory_mb`, `pids_limit`, `disk_mb`, `output_limit`, `command_timeout_s`, `ttl_s`); a
`policy:` block in a task, suite or agent config sets both through `apply_policy_block`:

    policy:
      network: {mode: allowlist, allow: [pypi.org, files.pythonhosted.org]}
      paths: {read_only: [/testbed/tests], hidden: [/grader], read_only_root: false}
      resources: {cpus: 2, memory_mb: 2048, command_timeout_s: 600}

Every value here is validated on construction; a bad value raises `SandboxPolicyError` naming the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from envs.rock.egress.rules import RuleError, parse_rule
from envs.rock.errors import SandboxError

if TYPE_CHECKING:
    from envs.rock.api import SandboxSpec

NetworkMode = Literal["none", "allowlist", "open"]
NETWORK_MODES: tuple[str, ...] = ("none", "allowlist", "open")
#: Writable under `read_only_root` whatever the policy lists (with the workdir).
ALWAYS_WRITABLE = ("/tmp", "/var/tmp")
#: Spec fields a `resources:` block may set.
RESOURCE_FIELDS = (
    "cpus",
    "memory_mb",
    "pids_limit",
    "disk_mb",
    "output_limit",
    "command_timeout_s",
    "ttl_s",
)


class SandboxPolicyError(SandboxError, ValueError):
    """A policy that cannot be honoured as written; the message says what to write."""


def _strict_keys(section: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(known)}"
            where = f"policy {section}" if section else "the policy block"
            raise SandboxPolicyError(f"unknown key {key!r} in {where}{hint}")


def _strings(section: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SandboxPolicyError(f"policy {section} must be a list of strings, not {value!r}")
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class NetworkPolicy:
    """`none`: loopback only. `allowlist`: only what `allow` names, through the egress proxy
    (rules: `envs.rock.egress.rules`). `open`: any destination (docker: a bridge network;
    local: the proxy allowing everything but the host's own addresses)."""

    mode: NetworkMode = "none"
    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode == "bridge":  # type: ignore[comparison-overlap]  # the old name
            object.__setattr__(self, "mode", "open")
        if self.mode not in NETWORK_MODES:
            raise SandboxPolicyError(
                f"network mode {self.mode!r} is not one of {', '.join(NETWORK_MODES)}"
            )
        object.__setattr__(self, "allow", tuple(self.allow))
        if self.allow and self.mode != "allowlist":
            raise SandboxPolicyError(
                f"network mode {self.mode!r} takes no allow list; use mode 'allowlist'"
            )
        for rule in self.allow:
            try:
                parse_rule(rule)
            except RuleError as exc:
                raise SandboxPolicyError(f"network allow rule: {exc}") from exc

    @classmethod
    def from_value(cls, value: Any) -> NetworkPolicy:
        """From `"none"` / `"open"` / `{"mode": ..., "allow": [...]}`."""
        if isinstance(value, NetworkPolicy):
            return value
        if isinstance(value, str):
            return cls(mode=cast(NetworkMode, value))
        if not isinstance(value, Mapping):
            raise SandboxPolicyError(f"policy network must be a mode or a mapping, not {value!r}")
        _strict_keys("network", value, ("mode", "allow"))
        allow = _strings("network.allow", value.get("allow", []))
        mode = value.get("mode", "allowlist" if allow else "none")
        return cls(mode=mode, allow=allow)


def _clean_path(section: str, path: str) -> str:
    if not path.startswith("/") or "\x00" in path:
        raise SandboxPolicyError(f"policy paths.{section}: {path!r} must be an absolute path")
    if ".." in path.split("/"):
        raise SandboxPolicyError(f"policy paths.{section}: {path!r} must not contain '..'")
    clean = posixpath.normpath(path)
    if clean == "/" or clean.startswith("//"):
        raise SandboxPolicyError(
            f"policy paths.{section}: {path!r} is the root; use read_only_root for that"
        )
    return clean


@dataclass(frozen=True)
class PathPolicy:
    """Paths inside the sandbox, enforced by mounts against root inside it.

    `read_only`: exists in the image, cannot be changed (write, chmod, rename, remount).
    `hidden`: whatever the image has there is replaced by an empty read-only directory (or an
    empty file). `read_only_root`: everything is read-only but the workdir, `writable` and
    `ALWAYS_WRITABLE`. Driver-side file operations (`write`, `read`, ...) see the same view.
    """

    read_only: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    read_only_root: bool = False

    def __post_init__(self) -> None:
        for name in ("read_only", "hidden", "writable"):
            paths = tuple(_clean_path(name, p) for p in getattr(self, name))
            object.__setattr__(self, name, paths)
        clash = set(self.read_only) & set(self.writable) or set(self.hidden) & set(self.writable)
        if clash:
            raise SandboxPolicyError(
                f"policy paths {sorted(clash)} are both writable and protected"
            )

    @property
    def empty(self) -> bool:
        return not (self.read_only or self.hidden or self.writable or self.read_only_root)

    def writable_under_ro_root(self, workdir: str) -> tuple[str, ...]:
        """What stays writable when the root is read-only (sorted, no duplicates)."""
        extra = (posixpath.normpath(workdir),) if workdir not in ("", "/") else ()
        return tuple(sorted({*ALWAYS_WRITABLE, *extra, *self.writable}))

    @classmethod
    def from_value(cls, value: Any) -> PathPolicy:
        if isinstance(value, PathPolicy):
            return value
        if not isinstance(value, Mapping):
            raise SandboxPolicyError(f"policy paths must be a mapping, not {value!r}")
        known = ("read_only", "hidden", "writable", "read_only_root")
        _strict_keys("paths", value, known)
        lists = {k: _strings(f"paths.{k}", value[k]) for k in known[:3] if k in value}
        ro_root = value.get("read_only_root", False)
        if not isinstance(ro_root, bool):
            raise SandboxPolicyError(
                f"policy paths.read_only_root must be true or false, not {ro_root!r}"
            )
        return cls(**lists, read_only_root=ro_root)


@dataclass(frozen=True)
class SandboxPolicy:
    """Network and filesystem permissions of one sandbox (resources: the spec's fields)."""

    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    paths: PathPolicy = field(default_factory=PathPolicy)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SandboxPolicy:
        """From the plain data `to_dict` gives (or a `policy:` block without `resources`)."""
        data = data or {}
        _strict_keys("", data, ("network", "paths"))
        return cls(
            network=NetworkPolicy.from_value(data.get("network", "none")),
            paths=PathPolicy.from_value(data.get("paths", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data (lists, not tuples)."""
        out = dataclasses.asdict(self)
        for section in out.values():
            for k, v in section.items():
                if isinstance(v, tuple):
                    section[k] = list(v)
        return out


def apply_policy_block(spec: SandboxSpec, block: Mapping[str, Any] | None) -> SandboxSpec:
    """`spec` with a `policy:` block applied: network and paths replace the spec's policy
    sections they name; `resources` set the spec's resource fields."""
    if not block:
        return spec
    if not isinstance(block, Mapping):
        raise SandboxPolicyError(f"a policy block must be a mapping, not {block!r}")
    _strict_keys("", block, ("network", "paths", "resources"))
    policy = spec.policy
    if "network" in block:
        policy = dataclasses.replace(policy, network=NetworkPolicy.from_value(block["network"]))
    if "paths" in block:
        policy = dataclasses.replace(policy, paths=PathPolicy.from_value(block["paths"]))
    resources = block.get("resources") or {}
    if not isinstance(resources, Mapping):
        raise SandboxPolicyError(f"policy resources must be a mapping, not {resources!r}")
    _strict_keys("resources", resources, RESOURCE_FIELDS)
    for key, value in resources.items():
        if value is not None and (not isinstance(value, int | float) or value <= 0):
            raise SandboxPolicyError(
                f"policy resources.{key} must be a positive number, not {value!r}"
            )
    return dataclasses.replace(spec, policy=policy, **dict(resources))


def permissions(spec: SandboxSpec) -> dict[str, Any]:
    """The whole permission record of a spec (policy plus resources), as `info` shows it."""
    return {
        **spec.policy.to_dict(),
        "resources": {k: getattr(spec, k) for k in RESOURCE_FIELDS},
    }
