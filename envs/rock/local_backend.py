"""The `local` backend: daemon-less sandboxes from bubblewrap, overlayfs and cgroups.

Each sandbox has a state directory (`overlay.Layout`, under `ale_home()/local/<id>/`), an
overlay root mounted on the host over the read-only root filesystem of `spec.image`, a cgroup
with its limits (`cgroups.SandboxCgroup`), and one long-lived *init*: PID 1 of the sandbox's
pid namespace, running the TTL loop. Shell sessions join the init's namespaces and share its
root (`bwrap.shell_argv`), like `docker exec` into a container: files, processes, loopback
and hostname are shared; cwd, exports and shell variables are per session. File operations go
through the host view of the root, resolved inside it by the kernel (`inroot.SandboxRoot`).

Limits: every process joins the cgroup before it execs anything. Without usable cgroups,
`create` raises `BackendUnavailable`; a sandbox never runs unlimited. `disk_mb` is not
refused by this backend. Every sandbox has its own network namespace with only loopback;
`allowlist` and `open` reach out through the egress proxy bound into it (`envs.rock.egress`).
Path policies are mounts made under the root before the init starts (`envs.rock.mounts`).

TTL and gc: no `--die-with-parent` on the init. Sandboxes must outlive their creator
(`ale sandbox create` is detached; the warm pool creates on worker threads, and a parent-death
signal fires when the creating *thread* exits). When the init's TTL loop ends, the kernel
kills every process of the namespace. A driver killed by SIGKILL leaves its sandboxes running
until then, and `ale sandbox gc` (`is_orphan`: owner pid dead or TTL passed) calls
`remove_local_sandbox`, which kills the cgroup's processes, unmounts and deletes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envs.rock.api import LABEL_EXPIRES_AT, ExecResult, SandboxSpec, owner_labels
from envs.rock.bwrap import SessionTransport, init_argv, shell_argv, user_prefix
from envs.rock.cgroups import CgroupLimits, SandboxCgroup
from envs.rock.egress import (
    RESOLV_CONF,
    EgressHandle,
    change_allowlist,
    proxy_env,
    start_egress,
)
from envs.rock.egress.audit import read_audit
from envs.rock.errors import (
    BackendUnavailable,
    CommandKilledSandbox,
    ImageNotFound,
    SandboxDead,
    SandboxError,
)
from envs.rock.image_build import IMAGE_ENV, rootfs_path
from envs.rock.inroot import SandboxRoot
from envs.rock.local_state import (
    list_local_sandboxes,
    local_sandbox_status,
    proc_start,
    reap,
    remove_local_sandbox,
    stop,
    teardown,
    write_state,
)
from envs.rock.mounts import apply_paths, bwrap_args, empty_file
from envs.rock.overlay import (
    HOST_ENV,
    SANDBOX_ID,
    Layout,
    copy_tree,
    merge_upper,
    mount_overlay,
    replace_upper,
    run_host,
)
from envs.rock.pipe_transport import PipeTransport
from envs.rock.policy import SandboxPolicyError
from envs.rock.proctree import children
from envs.rock.reads import DOWNLOAD_LIMIT, READ_LIMIT
from envs.rock.seccomp import syscall_filter
from envs.rock.shell import ShellSession

__all__ = [  # the state-directory functions live in `local_state`; callers may import them here
    "LocalSandbox",
    "list_local_sandboxes",
    "local_sandbox_status",
    "reap",
    "remove_local_sandbox",
]
BACKEND = "local"
LABEL_IMAGE = "ale.image"  # read by `gc.list_local`
_START_TIMEOUT_S = 15.0
_PASSWD_LIMIT = 1 << 20  # bytes of the sandbox's /etc/passwd read at each shell start


# -- host helpers ----------------------------------------------------------------------------
def _check_host() -> None:
    if os.geteuid() != 0:
        raise BackendUnavailable(
            "the local backend needs root (overlay mounts, cgroups, namespaces); run as root "
            "or use backend='docker'."
        )
    for tool, package in (("bwrap", "bubblewrap"), ("nsenter", "util-linux"), ("mount", "mount")):
        if not shutil.which(tool, path=HOST_ENV["PATH"]):
            raise BackendUnavailable(
                f"the local backend needs `{tool}`: `apt-get install -y {package}`, or use "
                "backend='docker'."
            )


# -- the sandbox -----------------------------------------------------------------------------
class LocalSandbox:
    """A sandbox from bubblewrap and cgroups. Create with `LocalSandbox.create(spec)`."""

    def __init__(self, spec: SandboxSpec, layout: Layout) -> None:
        self._spec = spec
        self._layout = layout
        self._cgroup = SandboxCgroup(layout.sid)
        self._files = SandboxRoot(layout.merged, describe=f"local sandbox {layout.sid}")
        self._sessions: dict[str, ShellSession] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._init_pid = 0
        self._init_start = ""
        self._closed = False
        self._egress: EgressHandle | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def create(cls, spec: SandboxSpec) -> LocalSandbox:
        _check_host()
        if spec.disk_mb:
            raise SandboxPolicyError(
                f"disk_mb={spec.disk_mb} cannot be enforced by the local backend (the overlay's "
                "upper dir lives on the host's disk, with no quota): drop disk_mb, or use the "
                "docker backend on a storage driver with quotas (overlay2 on xfs with pquota)."
            )
        rootfs = rootfs_path(spec.image)
        if not (rootfs / "bin").exists():
            raise ImageNotFound(
                f"no root filesystem for image {spec.image!r} at {rootfs}: build it with "
                "`ale images build --local` (the local backend uses no registry)."
            )
        layout = Layout.of(secrets.token_hex(6))
        layout.dir.mkdir(parents=True, mode=0o700)
        labels = {**owner_labels(spec, BACKEND), LABEL_IMAGE: spec.image}
        layout.labels.write_text(json.dumps(labels, indent=1))  # first: gc can always find it
        sb = cls(spec, layout)
        try:
            sb._cgroup.create(CgroupLimits(spec.memory_mb * 2**20, spec.pids_limit, spec.cpus))
            for d in (layout.upper, layout.work, layout.merged, layout.sysfs, layout.snapshots):
                d.mkdir()
            mount_overlay(rootfs, layout)
            sb._files.makedirs(spec.workdir)  # like docker's WORKDIR
            if spec.network != "none":
                sb._files.write("/etc/resolv.conf", RESOLV_CONF)
            sb._boot(spec.ttl_s)
        except BaseException:
            sb._closed = True
            with contextlib.suppress(SandboxError, OSError):  # else gc finds it by its labels
                teardown(layout, sb._proc)
            raise
        return sb

    @classmethod
    def attach(cls, sandbox_id: str) -> LocalSandbox:
        """A handle on a running local sandbox (e.g. from `ale sandbox create`)."""
        layout = Layout.of(sandbox_id)
        try:
            state = json.loads(layout.state.read_text())
        except (OSError, ValueError) as exc:
            raise SandboxDead(
                f"local sandbox {sandbox_id} is gone ({exc}): see `ale sandbox ls`"
            ) from exc
        sb = cls(SandboxSpec.from_dict(state["spec"]), layout)
        sb._init_pid, sb._init_start = int(state["init_pid"]), str(state["init_start"])
        return sb

    def _boot(self, ttl_s: float) -> None:
        """Mount the path policy, start the init and wait until it runs bash in its
        namespaces; mount its sysfs; start its egress proxy."""
        paths = self._spec.policy.paths
        apply_paths(self._layout.merged, paths, self._spec.workdir, empty_file(self._layout.dir))
        keep_r, keep_w = os.pipe()
        env = {**IMAGE_ENV, **self._env()}
        argv = init_argv(self._layout, self._cgroup, env, True, ttl_s, keep_r)
        try:
            with open(self._layout.log, "ab") as log:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(keep_r, keep_w),
                    start_new_session=True,
                    env=HOST_ENV,
                )
        finally:
            os.close(keep_r)
            os.close(keep_w)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:  # outer sh -> bwrap (the inner sh exec'd it) -> bash, PID 1 of the sandbox
            init = next(
                (
                    k
                    for w in children(self._proc.pid)
                    if _comm(w) == "bwrap"
                    for k in children(w)
                    if _comm(k) == "bash"
                ),
                0,
            )
            if init:
                self._init_pid, self._init_start = init, proc_start(init) or ""
                break
            if self._proc.poll() is not None or time.monotonic() > deadline:
                said = self._layout.log.read_text(errors="replace")[-2000:]
                raise SandboxError(f"local sandbox {self.id} did not start: {said!r}")
            time.sleep(0.005)
        # a memory bomb must not make the OOM killer pick the init (that would end the sandbox)
        with contextlib.suppress(OSError):
            Path(f"/proc/{self._init_pid}/oom_score_adj").write_text("-1000")
        state = {
            "spec": self._spec.to_dict(),
            "init_pid": self._init_pid,
            "init_start": self._init_start,
        }
        write_state(self._layout, state)
        run_host(
            [
                "nsenter",
                f"--net=/proc/{self._init_pid}/ns/net",
                "--",
                "mount",
                "-t",
                "sysfs",
                "-o",
                "ro,nosuid,nodev,noexec",
                "sysfs",
                str(self._layout.sysfs),
            ],
            f"mounting /sys of sandbox {self.id}",
        )
        if self._spec.network != "none":
            self._egress = start_egress(
                self._init_pid, self.id, self._spec.policy.network, self._audit_path
            )

    @property
    def _audit_path(self) -> Path:
        return self._layout.dir / "audit.jsonl"

    def _env(self) -> dict[str, str]:
        """The spec's environment, over the proxy settings when the network is not `none`."""
        return {**proxy_env(), **self._spec.env} if self._spec.network != "none" else self._spec.env

    def audit(self) -> list[dict[str, Any]]:
        """The egress audit log so far (`envs.rock.egress.audit`); [] without egress."""
        return read_audit(self._audit_path)

    def set_allowlist(self, rules: Sequence[str]) -> None:
        change_allowlist(self.id, self._spec.network, self._audit_path, rules)

    @property
    def id(self) -> str:
        return self._layout.sid

    @property
    def spec(self) -> SandboxSpec:
        return self._spec

    def alive(self) -> bool:
        if self._closed:
            return False
        if self._proc is not None:
            self._proc.poll()  # reap the init's wrapper once it exited
        return bool(self._init_pid) and proc_start(self._init_pid) == self._init_start

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        teardown(self._layout, self._proc, sessions)
        if self._egress is not None:
            self._egress.stop()

    # -- commands ------------------------------------------------------------------------
    def _connect(self, user_name: str | None = None) -> PipeTransport:
        if not self.alive():
            raise SandboxDead(self._dead_message())
        user, home = user_prefix(user_name or self._spec.user, self._passwd())
        env = {**IMAGE_ENV, "HOME": home, "HOSTNAME": self.id, **self._env()}
        hide = bwrap_args(self._spec.policy.paths, empty_file(self._layout.dir))
        argv = shell_argv(
            self._layout,
            self._cgroup,
            self._init_pid,
            self._init_start,
            env,
            user,
            hide,
            seccomp=syscall_filter(self._layout),
        )
        return SessionTransport(argv, env=HOST_ENV, shell_depth=1)

    def _passwd(self) -> list[str]:
        try:
            passwd = self._files.read("/etc/passwd", _PASSWD_LIMIT)
            return passwd.decode("utf-8", "replace").splitlines()
        except SandboxError:
            return []

    def _dead_message(self, doing: str = "") -> str:
        expired = float(self._labels().get(LABEL_EXPIRES_AT, "0")) <= time.time()
        why = "its TTL expired" if expired else "it was killed or removed"
        return (
            f"local sandbox {self.id} is dead{doing} ({why}); its state is lost: create a "
            "new sandbox."
        )

    def _lost(self, command: str) -> SandboxDead:
        """Why the sandbox died while `command` ran: closed, TTL or removed (its labels are
        gone) are not the command's doing; anything else is (`CommandKilledSandbox`)."""
        doing = f" after running {command[:80]!r}"
        expired = float(self._labels().get(LABEL_EXPIRES_AT, "0")) <= time.time()
        if self._closed or expired:
            return SandboxDead(self._dead_message(doing))
        return CommandKilledSandbox(
            f"local sandbox {self.id} died while running {command[:80]!r} (its TTL had not "
            "passed, nobody removed it): the command or what it started ended it"
        )

    def _labels(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._layout.labels.read_text()))
        except (OSError, ValueError):
            return {}

    def _session(self, name: str) -> ShellSession:
        if self._closed:
            raise SandboxDead(f"sandbox {self.id} is closed; create a new one")
        if name not in self._sessions:
            user = self._spec.session_users.get(name)
            self._sessions[name] = ShellSession(
                lambda: self._connect(user),
                workdir=self._spec.workdir,
                output_limit=self._spec.output_limit,
                describe=lambda: f"local sandbox {self.id}",
            )
        return self._sessions[name]

    def run(self, command: str, timeout: float = 60.0, session: str = "default") -> ExecResult:
        oom_before = self._cgroup.oom_kills()
        try:
            result = self._session(session).run(command, self._spec.timeout(timeout))
        except (SandboxDead, OSError) as exc:
            self._sessions.pop(session, None)
            if not self.alive():
                raise self._lost(command) from exc
            if isinstance(exc, OSError):
                raise SandboxError(f"running {command[:80]!r} in {self.id}: {exc}") from exc
            raise
        if (
            result.exit_code in (137, -1) or result.session_restarted
        ) and self._cgroup.oom_kills() > oom_before:
            note = (
                f"\n[out of memory: this sandbox's {self._spec.memory_mb} MiB limit was hit "
                "and the kernel killed a process; use less memory or raise memory_mb]\n"
            ).encode()
            return dataclasses.replace(result, raw=result.raw + note, oom_killed=True)
        return result

    # -- files ---------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self._closed or not self._layout.merged.is_dir():
            raise SandboxDead(f"sandbox {self.id} is closed; create a new one")

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._require_open()
        self._files.write(path, data, mode)

    def read(self, path: str, max_bytes: int = READ_LIMIT) -> bytes:
        self._require_open()
        return self._files.read(path, max_bytes)

    def upload(self, local_path: str | Path, path: str) -> None:
        self._require_open()
        self._files.upload(Path(local_path), path)

    def download(self, path: str, local_path: str | Path, max_bytes: int = DOWNLOAD_LIMIT) -> None:
        self._require_open()
        self._files.download(path, Path(local_path), max_bytes)

    # -- snapshots -----------------------------------------------------------------------
    def snapshot(self) -> str:
        """Copy the overlay's upper dir (processes frozen meanwhile); returns `<id>.<n>`."""
        self._require_open()
        n = sum(1 for _ in self._layout.snapshots.iterdir())
        frozen = self._cgroup.freeze(True)
        try:
            copy_tree(
                self._layout.upper, self._layout.snapshots / str(n), f"snapshotting {self.id}"
            )
        finally:
            if frozen:
                self._cgroup.freeze(False)
        return f"{self.id}.{n}"

    def commit(self, tag: str, labels: dict[str, str], env: dict[str, str]) -> None:
        """Write the sandbox's filesystem as the root filesystem of image `tag`
        (`envs.rock.derived`): hard links to the source tree plus the overlay's changes,
        made while the sandbox's processes are frozen. `labels` and `env` go to a file beside
        it (this backend has no image ENV: callers put `env` in their specs)."""
        self._require_open()
        dest = rootfs_path(tag)
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        frozen = self._cgroup.freeze(True)
        try:
            run_host(
                ["cp", "-al", str(rootfs_path(self._spec.image)), str(staging)],
                f"linking the root filesystem of {self._spec.image}",
            )
            merge_upper(self._layout.upper, staging)
        finally:
            if frozen:
                self._cgroup.freeze(False)
        stamp = staging / ".ale-recipe"
        stamp.unlink(missing_ok=True)  # a hard link into the source: never write through it
        stamp.write_text(labels.get("ale.recipe", tag))
        sidecar = dest.with_name(dest.name + ".labels.json")
        sidecar.write_text(json.dumps({**labels, "ale.derived.tag": tag, "env": json.dumps(env)}))
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)

    def restore(self, snapshot_id: str) -> None:
        """Restart the sandbox on a copy of the snapshot; sessions keep their cwd.

        Every process of the sandbox is killed (like a container replaced from an image);
        the TTL keeps counting from the original creation. Snapshots of another local
        sandbox of the same image work while that sandbox exists.
        """
        self._require_open()
        sid, _, n = snapshot_id.partition(".")
        source = Layout.of(sid) if SANDBOX_ID.fullmatch(sid) else None
        src = source.snapshots / n if source and n.isdigit() else None
        if src is None or not src.is_dir():
            raise SandboxError(f"no snapshot {snapshot_id!r} on this host (made by snapshot())")
        if source != self._layout and LocalSandbox.attach(sid).spec.image != self._spec.image:
            raise SandboxError(
                f"snapshot {snapshot_id!r} is of another image than {self._spec.image!r}"
            )
        remaining = float(self._labels().get(LABEL_EXPIRES_AT, "0")) - time.time()
        if remaining <= 0:
            raise SandboxDead(self._dead_message())
        cwds = {name: s.cwd for name, s in self._sessions.items()}
        sessions, self._sessions = list(self._sessions.values()), {}
        write_state(
            self._layout, {"spec": self._spec.to_dict(), "init_pid": 0, "init_start": ""}
        )  # "starting": gc leaves it alone
        stop(self._layout, self._proc, sessions, init=(self._init_pid, self._init_start))
        if self._egress is not None:
            self._egress.stop()
        replace_upper(self._layout, src, rootfs_path(self._spec.image))
        self._boot(remaining)
        for name, cwd in cwds.items():
            self._session(name).cwd = cwd

    def __repr__(self) -> str:
        return f"LocalSandbox(id={self.id!r}, image={self._spec.image!r})"


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
