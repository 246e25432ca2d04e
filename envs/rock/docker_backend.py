"""The `docker` backend: one container per sandbox, shells over hijacked exec sockets.

Isolation: `--network none` by default, all capabilities dropped but those a shell needs,
`no-new-privileges`, cpus/memory (swap == memory)/pids limits, never `--privileged`.
Server-side TTL: the container's main process waits `ttl_s` and exits (`ttl_init_script`),
so the container stops and is auto-removed even if the driver was SIGKILLed.
Files: straight into the container's filesystem when the engine runs on this host
(`envs.rock.host_root`, microseconds), else through the engine's archive API (tens of ms);
`ALE_DOCKER_FILES=engine` forces the API.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import shlex
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import docker
import docker.errors
import requests

from envs.rock import tario
from envs.rock.api import LABEL_EXPIRES_AT, ExecResult, SandboxSpec, owner_labels
from envs.rock.docker_policy import (
    audit_path,
    container_env,
    create_container,
    policy_from_labels,
    policy_label,
    policy_options,
    remove_audit,
    with_audit_label,
)
from envs.rock.egress import EgressHandle, change_allowlist, start_egress
from envs.rock.egress.audit import read_audit
from envs.rock.errors import (
    BackendUnavailable,
    CommandKilledSandbox,
    ImageNotFound,
    SandboxDead,
    SandboxError,
    SandboxFileError,
)
from envs.rock.host_root import ContainerRoot, open_container_root
from envs.rock.hostcopy import unpack_tar
from envs.rock.pid1 import ttl_init_script
from envs.rock.policy import SandboxPolicyError
from envs.rock.proctree import interrupt_shell
from envs.rock.pseudofs import refuse_pseudo_path
from envs.rock.reads import (
    CHUNK,
    DOWNLOAD_LIMIT,
    READ_LIMIT,
    ChunkStream,
    too_large,
)
from envs.rock.shell import SHELL_ARGV, ShellSession

BACKEND = "docker"
SHELL_CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "NET_BIND_SERVICE",
]
SNAPSHOT_REPO = "ale-snapshot"
_TAR_SLACK = 16 << 20  # tar headers and padding allowed on top of a read's content cap
_GO_MODE_DIR = 1 << 31  # os.ModeDir in the stat the engine returns with an archive
_API_TIMEOUT_S = 60
_STDOUT = 1

_client_lock = threading.Lock()
_clients: dict[int, docker.DockerClient] = {}


def client() -> docker.DockerClient:
    """A per-process Docker client; raises `BackendUnavailable` with the fix if none answers."""
    with _client_lock:
        pid = os.getpid()
        if pid not in _clients:
            try:
                c = docker.from_env(timeout=_API_TIMEOUT_S)
                c.ping()
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise BackendUnavailable(
                    "No Docker engine answers "
                    f"({os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}): {exc}. "
                    "Start one (`dockerd &`, or `bash .ci/setup-machine.sh` which installs and "
                    "starts it), or use the daemon-less backend: backend='local'."
                ) from exc
            _clients[pid] = c
        return _clients[pid]


def engine_error(exc: Exception, what: str) -> SandboxError:
    """Map docker-py / requests exceptions to our errors, with the fix in the message."""
    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageNotFound(f"{what}: {exc}. Build it with `ale images build`.")
    if isinstance(exc, docker.errors.NotFound):
        return SandboxDead(f"{what}: the container is gone ({exc}); create a new sandbox.")
    if isinstance(exc, docker.errors.APIError):  # the engine answered: not a lost engine
        return SandboxError(f"{what}: the Docker engine refused: {exc.explanation or exc}")
    if isinstance(exc, requests.RequestException | ConnectionError | OSError):
        return SandboxDead(
            f"{what}: lost the Docker engine ({exc}). If dockerd restarted, every sandbox it "
            "ran is gone: create new ones."
        )
    return SandboxError(f"{what}: {exc}")


class DockerExecTransport:
    """`ShellTransport` over a `docker exec` stdin/stdout socket (multiplexed frames)."""

    def __init__(
        self, api: Any, container_id: str, spec: SandboxSpec, user: str | None = None
    ) -> None:
        user = user or spec.user
        self._api = api
        self._exec_id = api.exec_create(
            container_id,
            SHELL_ARGV,
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            environment=spec.env,
            workdir=spec.workdir,
            user="0:0" if user == "root" else user,  # no passwd lookup for root
        )["Id"]
        self._sock: socket.socket = api.exec_start(self._exec_id, socket=True)._sock
        self._sock.setblocking(True)
        self._frames = bytearray()
        self.stderr_tail = b""  # kept for error messages
        self._pid = 0
        self._closed = False

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise EOFError("exec socket closed") from exc

    def recv(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            out = self._take_stdout()
            if out:
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            ready, _, _ = select.select([self._sock], [], [], remaining)
            if not ready:
                return b""
            try:
                data = self._sock.recv(1 << 16)
            except OSError as exc:
                raise EOFError("exec socket closed") from exc
            if not data:
                raise EOFError("shell exited")
            self._frames += data

    def _take_stdout(self) -> bytes:
        """Complete stdout frames out of the buffer; stderr frames are dropped.

        The shell merges stderr into stdout after start-up, so stderr only carries
        bash's own start-up chatter.
        """
        out = bytearray()
        buf = self._frames
        while len(buf) >= 8:
            stream, size = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            if stream == _STDOUT:
                out += buf[8 : 8 + size]
            else:
                self.stderr_tail = (self.stderr_tail + bytes(buf[8 : 8 + size]))[-4096:]
            del buf[: 8 + size]
        return bytes(out)

    def host_pid(self) -> int:
        """The shell's pid on this host, 0 when the engine runs elsewhere."""
        deadline = time.monotonic() + 2.0
        while not self._pid and time.monotonic() < deadline:
            self._pid = int(self._api.exec_inspect(self._exec_id).get("Pid") or 0)
            if not self._pid:
                time.sleep(0.01)
        return self._pid if os.path.exists(f"/proc/{self._pid}") else 0

    def interrupt(self, hard: bool) -> None:
        pid = self.host_pid()
        if not pid:
            raise SandboxError(
                "a command timed out, and this Docker engine runs on another host, where ale "
                "cannot signal its processes: run ale on the engine's host (the Ray pool places "
                "drivers there)."
            )
        interrupt_shell(pid, hard)

    def exit_status(self) -> int | None:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            info = self._api.exec_inspect(self._exec_id)
            if not info.get("Running"):
                return int(info.get("ExitCode") or 0)
            time.sleep(0.01)
        return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pid = self.host_pid() if self._pid else 0
        if pid:
            interrupt_shell(pid, hard=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        with contextlib.suppress(OSError):
            self._sock.close()


class DockerSandbox:
    """A sandbox in one Docker container. Create with `DockerSandbox.create(spec)`."""

    def __init__(self, spec: SandboxSpec, container: Any) -> None:
        self._spec = spec
        self._container = container
        self._sessions: dict[str, ShellSession] = {}
        self._snapshots: list[str] = []
        self._closed = False
        self._root: ContainerRoot | None = None
        self._root_probed = os.environ.get("ALE_DOCKER_FILES") == "engine"  # never probe
        self._root_lock = threading.Lock()
        self._started_at = time.time()  # for the engine's event log (`_lost`)
        self._egress: EgressHandle | None = None
        self._audit_path = audit_path(spec.labels)

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def create(cls, spec: SandboxSpec) -> DockerSandbox:
        spec = with_audit_label(spec)
        sb = cls(spec, cls._start_container(spec))
        sb._host_root()  # probed now: also shields the init from the OOM killer
        try:
            sb._enforce_policy()
        except BaseException:
            sb.close()
            raise
        return sb

    def _enforce_policy(self) -> None:
        """What the engine cannot do at create: the egress proxy, read-only paths checked."""
        if self._spec.network == "allowlist":
            try:
                self._container.reload()
                pid = int(self._container.attrs.get("State", {}).get("Pid") or 0)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise engine_error(exc, f"inspecting {self.id}") from exc
            if not pid or not os.path.exists(f"/proc/{pid}/ns/net"):
                raise SandboxPolicyError(
                    "network 'allowlist' needs the Docker engine on this host (its proxy is "
                    "bound inside the container's network namespace): run ale on the engine's "
                    "host, or use network 'none' or 'open'."
                )
            self._egress = start_egress(pid, self.id, self._spec.policy.network, self._audit_path)
        ro = self._spec.policy.paths.read_only
        if ro:
            tests = " && ".join(f"test -e {shlex.quote(p)}" for p in ro)
            if not self.run(f"{tests} && echo ok", timeout=30).output.endswith("ok\n"):
                raise SandboxPolicyError(
                    f"a read-only path of {list(ro)} does not exist in the sandbox's image; "
                    "create it in the image or drop it from the policy"
                )

    def audit(self) -> list[dict[str, Any]]:
        """The egress audit log so far (`envs.rock.egress.audit`); [] without egress."""
        return read_audit(self._audit_path)

    def set_allowlist(self, rules: Sequence[str]) -> None:
        change_allowlist(self.id, self._spec.network, self._audit_path, rules)

    @classmethod
    def attach(cls, container_id: str) -> DockerSandbox:
        """A handle on a running container of ours (e.g. from `ale sandbox create`)."""
        try:
            container = client().containers.get(container_id)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise engine_error(exc, f"attaching to {container_id}") from exc
        cfg = container.attrs.get("Config", {})
        env = dict(e.split("=", 1) for e in cfg.get("Env") or [] if "=" in e)
        spec = SandboxSpec(
            image=cfg.get("Image", ""),
            workdir=cfg.get("WorkingDir") or "/",
            env=env,
            labels=dict(container.labels),
            policy=policy_from_labels(dict(container.labels)),
        )
        return cls(spec, container)

    @staticmethod
    def _start_container(spec: SandboxSpec, image: str | None = None) -> Any:
        c = client()
        net_and_paths, raw_host_config = policy_options(spec)
        kwargs: dict[str, Any] = dict(
            command=["bash", "-c", ttl_init_script(spec.ttl_s)],
            detach=True,
            stdin_open=True,  # PID 1 blocks reading it: no fork, nothing to kill
            auto_remove=True,
            labels={**owner_labels(spec, BACKEND), **policy_label(spec.policy)},
            environment=container_env(spec),
            working_dir=spec.workdir,
            **net_and_paths,
            nano_cpus=int(spec.cpus * 1e9),
            mem_limit=f"{spec.memory_mb}m",
            memswap_limit=f"{spec.memory_mb}m",
            pids_limit=spec.pids_limit,
            cap_drop=["ALL"],
            cap_add=SHELL_CAPS,
            security_opt=["no-new-privileges"],
            privileged=False,
        )
        if spec.disk_mb:
            kwargs["storage_opt"] = {"size": f"{spec.disk_mb}m"}
        kwargs.pop("detach")
        try:  # create + start: unlike `run`, never tries to pull from a registry
            container = create_container(c, image or spec.image, kwargs, raw_host_config)
            try:
                container.start()
            except BaseException:
                container.remove(force=True)
                raise
            return container
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFound(
                f"image {image or spec.image!r} is not on this Docker engine (no registry is "
                "reachable here): build it with `ale images build` (base image) or "
                "`ale images build --task DIR` (a task's Dockerfile)."
            ) from exc
        except docker.errors.APIError as exc:
            if spec.disk_mb and "storage" in str(exc.explanation or exc).lower():
                raise SandboxPolicyError(
                    f"disk_mb={spec.disk_mb} cannot be enforced by this Docker engine's storage "
                    f"driver ({exc.explanation}): drop disk_mb, or run the engine with overlay2 "
                    "on xfs mounted with pquota."
                ) from exc
            raise engine_error(exc, f"starting a container from {spec.image!r}") from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise engine_error(exc, f"starting a container from {spec.image!r}") from exc

    @property
    def id(self) -> str:
        return str(self._container.id[:12])

    @property
    def spec(self) -> SandboxSpec:
        return self._spec

    def alive(self) -> bool:
        try:
            self._container.reload()
        except (docker.errors.DockerException, requests.RequestException):
            return False
        return bool(self._container.status == "running")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._forget_root()
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        try:
            self._container.remove(force=True, v=True)
        except (docker.errors.DockerException, requests.RequestException):
            pass  # already gone, or the engine is: gc and the TTL cover it
        for image in self._snapshots:
            with contextlib.suppress(
                docker.errors.DockerException, requests.RequestException, SandboxError
            ):
                client().images.remove(image, force=True, noprune=False)
        if self._egress is not None:
            self._egress.stop()
        remove_audit(self._spec.labels)

    # -- commands ------------------------------------------------------------------------
    def _session(self, name: str) -> ShellSession:
        self._require_open()
        if name not in self._sessions:
            self._sessions[name] = ShellSession(
                lambda: DockerExecTransport(
                    client().api,
                    self._container.id,
                    self._spec,
                    self._spec.session_users.get(name),
                ),
                workdir=self._spec.workdir,
                output_limit=self._spec.output_limit,
                describe=lambda: f"docker sandbox {self.id}",
            )
        return self._sessions[name]

    def run(self, command: str, timeout: float = 60.0, session: str = "default") -> ExecResult:
        oom_before = self._oom_kills()
        try:
            result = self._session(session).run(command, self._spec.timeout(timeout))
        except (docker.errors.DockerException, requests.RequestException, SandboxDead) as exc:
            self._sessions.pop(session, None)
            if not self._alive_settled():
                raise self._lost(command) from exc
            raise engine_error(exc, f"running {command[:80]!r} in {self.id}") from exc
        if result.exit_code in (137, -1) or result.session_restarted:
            if self._oom_kills() > oom_before:
                note = (
                    f"\n[out of memory: this sandbox's {self._spec.memory_mb} MiB limit was hit "
                    "and the kernel killed a process; use less memory or raise memory_mb]\n"
                ).encode()
                return ExecResult(
                    exit_code=result.exit_code,
                    raw=result.raw + note,
                    truncated=result.truncated,
                    timed_out=result.timed_out,
                    duration_s=result.duration_s,
                    output_bytes=result.output_bytes,
                    session_restarted=result.session_restarted,
                    oom_killed=True,
                )
        return result

    def _alive_settled(self, wait_s: float = 3.0) -> bool:
        """`alive()`, given up to `wait_s` to turn False: a shell that just died with its
        container can fail before the engine has marked the container exited."""
        deadline = time.monotonic() + wait_s
        while self.alive():
            if time.monotonic() > deadline:
                return True
            time.sleep(0.05)
        return False

    def _lost(self, command: str) -> SandboxDead:
        """Why the container died while `command` ran. Not the command's doing: closed, TTL
        passed, the engine does not answer, or it never saw the container die (it restarted
        meanwhile: its event log starts afresh). Else `CommandKilledSandbox`."""
        lost = (
            f"docker sandbox {self.id} died while running {command[:80]!r} ({{}}); its state "
            "is lost: create a new sandbox."
        )
        expires = float(self._container.labels.get(LABEL_EXPIRES_AT, "0"))
        if self._closed or expires <= time.time():
            return SandboxDead(lost.format("closed, or its TTL expired"))
        try:
            died = list(
                client().events(
                    since=self._started_at - 1,
                    until=time.time(),
                    filters={"container": self._container.id, "event": ["die", "oom"]},
                    decode=True,
                )
            )
        except (docker.errors.DockerException, requests.RequestException, SandboxError):
            died = []
        if not died:
            return SandboxDead(lost.format("the Docker engine went away or restarted"))
        return CommandKilledSandbox(
            lost.format(
                "its TTL had not passed and the engine is fine: the command or what "
                "it started ended it"
            )
        )

    def _oom_kills(self) -> int:
        """OOM kills in this container's memory cgroup so far (v1 or v2); 0 if unreadable."""
        cid = self._container.id
        for path in (
            f"/sys/fs/cgroup/memory/docker/{cid}/memory.oom_control",
            f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.events",
            f"/sys/fs/cgroup/docker/{cid}/memory.events",
        ):
            try:
                for line in Path(path).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except OSError:
                continue
        return 0

    # -- files ---------------------------------------------------------------------------
    @property
    def files_via(self) -> str:
        """ "host" when file operations go straight to the container's filesystem (the engine
        runs on this host; see `envs.rock.host_root`), else "engine" (the archive API)."""
        return "host" if self._host_root() is not None else "engine"

    def _host_root(self) -> ContainerRoot | None:
        with self._root_lock:
            if not self._root_probed and not self._closed:
                self._probe_root()
        return self._root

    def _probe_root(self) -> None:
        self._root_probed = True
        pid = 0
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
            self._container.reload()  # the create-time attrs have no pid yet
            pid = int(self._container.attrs.get("State", {}).get("Pid") or 0)
        self._root = open_container_root(self._container.id, pid, f"docker sandbox {self.id}")
        if self._root is not None:  # pid checked: the OOM killer must never pick the init
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/oom_score_adj").write_text("-1000")

    def _forget_root(self) -> None:
        """Drop the host root (the container was replaced or closed); probed again on use."""
        with self._root_lock:
            if self._root is not None:
                self._root.close()
                self._root, self._root_probed = None, False

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        refuse_pseudo_path(path, "write")  # on every route, as on the local backend
        root = self._host_root()
        if root is not None:
            root.write(path, data, mode)
        else:
            self._put(tario.single_file(path, data, mode), path)

    def read(self, path: str, max_bytes: int = READ_LIMIT) -> bytes:
        refuse_pseudo_path(path, "read")  # on every route, as on the local backend
        root = self._host_root()
        if root is not None:
            return root.read(path, max_bytes)
        with self._get(path, max_bytes + _TAR_SLACK) as (stream, st):
            if not int(st.get("mode", 0)) & _GO_MODE_DIR and int(st.get("size", 0)) > max_bytes:
                raise too_large(path, int(st["size"]), max_bytes)
            return tario.extract_single_file(stream, path, max_bytes)

    def upload(self, local_path: str | Path, path: str) -> None:
        refuse_pseudo_path(path, "upload to")  # on every route, as on the local backend
        root = self._host_root()
        if root is not None:
            root.upload(Path(local_path), path)
        else:
            self._put(tario.pack_host_path(Path(local_path), path), path)

    def download(self, path: str, local_path: str | Path, max_bytes: int = DOWNLOAD_LIMIT) -> None:
        refuse_pseudo_path(path, "download")  # on every route, as on the local backend
        root = self._host_root()
        if root is not None:
            root.download(path, Path(local_path), max_bytes)
            return
        with self._get(path, 2 * max_bytes + _TAR_SLACK) as (stream, _):
            unpack_tar(stream, path, Path(local_path), max_bytes)

    def _require_open(self) -> None:
        if self._closed:
            raise SandboxDead(f"sandbox {self.id} is closed; create a new one")

    def _gone(self, what: str) -> SandboxDead | None:
        """The error for a file operation whose container vanished, else None."""
        if not self.alive():
            return SandboxDead(
                f"docker sandbox {self.id} is gone while {what} (killed, TTL "
                "expired, or the Docker engine restarted): create a new sandbox."
            )
        return None

    def _put(self, archive: bytes, path: str) -> None:
        self._require_open()
        try:
            ok = self._container.put_archive("/", archive)
        except docker.errors.NotFound as exc:
            raise self._gone(f"writing {path!r}") or SandboxFileError(
                f"cannot write {path!r} in {self.id}: {exc.explanation}"
            ) from exc
        except docker.errors.APIError as exc:
            raise SandboxFileError(
                f"cannot write {path!r} in {self.id}: {exc.explanation}"
            ) from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise engine_error(exc, f"writing {path!r}") from exc
        if not ok:
            raise SandboxFileError(f"cannot write {path!r} in {self.id}")

    @contextlib.contextmanager
    def _get(self, path: str, limit: int) -> Iterator[tuple[BinaryIO, dict[str, Any]]]:
        """The engine's tar stream of `path` (read as it comes, at most `limit` bytes) and
        its stat; engine failures while it is read are mapped like the call's."""
        self._require_open()
        try:
            chunks, st = self._container.get_archive(path, chunk_size=CHUNK)
            yield io.BufferedReader(ChunkStream(chunks, limit, path), CHUNK), dict(st or {})
        except docker.errors.NotFound as exc:
            raise self._gone(f"reading {path!r}") or SandboxFileError(
                f"no such file in sandbox {self.id}: {path!r}"
            ) from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise engine_error(exc, f"reading {path!r}") from exc

    # -- snapshots -----------------------------------------------------------------------
    def snapshot(self) -> str:
        """Commit the container's filesystem to a local image; returns its id."""
        if self._spec.policy.paths.read_only_root:
            raise SandboxPolicyError(
                "snapshots of a docker sandbox with read_only_root are not supported (its "
                "writable paths are volumes, which an image commit leaves out); use the local "
                "backend or a writable root"
            )
        try:
            image = self._container.commit(
                repository=SNAPSHOT_REPO,
                tag=f"{self.id}-{len(self._snapshots)}",
                conf={"Labels": owner_labels(self._spec, BACKEND)},
            )
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise engine_error(exc, f"snapshotting {self.id}") from exc
        self._snapshots.append(str(image.id))
        return str(image.id)

    def commit(self, tag: str, labels: dict[str, str], env: dict[str, str]) -> None:
        """Commit the container's filesystem as local image `tag` (`envs.rock.derived`).

        The image keeps its source image's Cmd, Entrypoint, Env (plus `env`) and labels, plus
        `labels`; the container's own labels (owner, expiry, run) are blanked, so that `gc`
        never takes the image for a sandbox's snapshot."""
        try:
            source = client().images.get(self._spec.image).attrs.get("Config") or {}
            mine = dict(self._container.labels or {})
            keep = dict(source.get("Labels") or {})
            source_env = dict(e.split("=", 1) for e in source.get("Env") or [] if "=" in e)
            conf = {
                "Labels": {**{k: "" for k in mine if k not in keep}, **keep, **labels},
                "Env": [f"{k}={v}" for k, v in {**source_env, **env}.items()],
                "Cmd": source.get("Cmd"),
                "Entrypoint": source.get("Entrypoint"),
                "WorkingDir": self._spec.workdir,
            }
            repository, _, name = tag.rpartition(":")
            self._container.commit(repository=repository, tag=name, conf=conf)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise engine_error(exc, f"committing {self.id} as {tag}") from exc

    def restore(self, snapshot_id: str) -> None:
        """Replace the container by a fresh one from the snapshot; sessions keep their cwd."""
        old = self._container
        self._container = self._start_container(self._spec, image=snapshot_id)
        self._started_at = time.time()
        self._forget_root()
        self._host_root()  # the new init: shielded from the OOM killer too
        cwds = {name: s.cwd for name, s in self._sessions.items()}
        for s in self._sessions.values():
            s.close()
        self._sessions.clear()
        for name, cwd in cwds.items():
            self._session(name).cwd = cwd
        if self._egress is not None:
            self._egress.stop()
        self._enforce_policy()
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
            old.remove(force=True, v=True)

    def __repr__(self) -> str:
        return f"DockerSandbox(id={self.id!r}, image={self._spec.image!r})"
