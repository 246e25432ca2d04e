"""Scale-out: sandboxes placed as Ray actors on the nodes of a Ray cluster.

Each sandbox is owned by one Ray actor (`SandboxActor`) that runs on the node whose Docker
engine (or bubblewrap) hosts it and creates it there with `envs.rock.factory.create_sandbox`.
The driver gets a `RaySandbox` proxy that satisfies the `Sandbox` protocol: every call is
one actor method call. Host paths given to `upload` / `download` are the driver's; files move
as tar bytes through Ray, so driver and sandbox need not share a filesystem.

Placement (`RaySandboxPool(placement=...)`):
- "spread" (default): the alive eligible node with the fewest of this pool's live sandboxes,
  pinned with a hard node-affinity strategy, so sandboxes land evenly on every node.
- "ray": Ray's own scheduler decides among eligible nodes (it honours `node_resource`).

Node resource labels: with `node_resource="ale_sandbox"`, only nodes started with that
custom resource (`ray start --resources='{"ale_sandbox": 8}'`) are eligible, and each
sandbox's actor holds `resource_per_sandbox` of it, so the number caps sandboxes per node.

Cleanup: the container's owner labels name the actor's process (pid, host), plus
`ale.ray.pool` / `ale.ray.node`. If the driver dies, Ray kills the driver's actors; their
containers then are orphans that `ale sandbox gc` removes (and the server-side TTL ends
them in any case).
"""

from __future__ import annotations

import io
import itertools
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from envs.rock.api import ExecResult, SandboxSpec
from envs.rock.errors import BackendUnavailable, SandboxDead, SandboxError
from envs.rock.hostcopy import unpack_tar
from envs.rock.placement import eligible_nodes, pick_spread, pinned
from envs.rock.reads import DOWNLOAD_LIMIT, READ_LIMIT

LABEL_RAY_POOL = "ale.ray.pool"
LABEL_RAY_NODE = "ale.ray.node"
Placement = Literal["spread", "ray"]
_CALL_MARGIN_S = 60.0  # extra time a proxied `run` waits beyond the command's own timeout


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a dependency
        raise BackendUnavailable("the Ray pool needs ray: `pip install ray`") from exc
    return ray


class SandboxActor:
    """Owns one sandbox on the node it runs on. Used as a Ray actor (see `_actor_class`)."""

    def __init__(self, spec: SandboxSpec, backend: str) -> None:
        import ray

        from envs.rock.factory import create_sandbox

        self.node_id = str(ray.get_runtime_context().get_node_id())
        spec = replace(spec, labels={**spec.labels, LABEL_RAY_NODE: self.node_id[:16]})
        self.sandbox = create_sandbox(spec, backend)

    def describe(self) -> dict[str, str]:
        """`{"id", "node_id", "pid"}`: who and where (pid of the actor process)."""
        import os

        return {"id": self.sandbox.id, "node_id": self.node_id, "pid": str(os.getpid())}

    def run(self, command: str, timeout: float, session: str) -> ExecResult:
        return self.sandbox.run(command, timeout=timeout, session=session)

    def write(self, path: str, data: bytes, mode: int) -> None:
        self.sandbox.write(path, data, mode)

    def read(self, path: str, max_bytes: int) -> bytes:
        return self.sandbox.read(path, max_bytes)

    def upload_tar(self, archive: bytes, name: str, path: str) -> None:
        """Unpack `archive` (top entry `name`) on this node, then upload it to `path`."""
        with tempfile.TemporaryDirectory(prefix="ale-ray-up-") as tmp:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
                tf.extractall(tmp, filter="tar")
            self.sandbox.upload(Path(tmp) / name, path)

    def download_tar(self, path: str, max_bytes: int) -> bytes:
        """`path` downloaded on this node (by `hostcopy`'s rules, at most `max_bytes` of
        content), as a tar whose top entry is `payload`."""
        with tempfile.TemporaryDirectory(prefix="ale-ray-down-") as tmp:
            self.sandbox.download(path, Path(tmp) / "payload", max_bytes)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                tf.add(str(Path(tmp) / "payload"), arcname="payload")
            return buf.getvalue()

    def snapshot(self) -> str:
        return self.sandbox.snapshot()

    def restore(self, snapshot_id: str) -> None:
        self.sandbox.restore(snapshot_id)

    def alive(self) -> bool:
        return self.sandbox.alive()

    def audit(self) -> list[dict[str, Any]]:
        return self.sandbox.audit()

    def set_allowlist(self, rules: list[str]) -> None:
        self.sandbox.set_allowlist(rules)

    def close(self) -> None:
        self.sandbox.close()


_actor_cls: Any = None
_actor_lock = threading.Lock()


def _actor_class() -> Any:
    """`SandboxActor` as a Ray actor class (built lazily: importing this module needs no Ray)."""
    global _actor_cls
    with _actor_lock:
        if _actor_cls is None:
            _actor_cls = _ray().remote(SandboxActor)
        return _actor_cls


class RaySandbox:
    """Driver-side proxy of a sandbox owned by a `SandboxActor`; satisfies `Sandbox`.

    Errors raised in the actor (`SandboxError` subclasses) are re-raised as themselves; a dead
    actor (node lost, actor killed) raises `SandboxDead`.
    """

    def __init__(
        self,
        actor: Any,
        spec: SandboxSpec,
        info: dict[str, str],
        pool: RaySandboxPool | None = None,
    ) -> None:
        self._actor, self._spec, self._pool = actor, spec, pool
        self._id, self.node_id, self.actor_pid = info["id"], info["node_id"], info["pid"]
        self._closed = False

    @property
    def id(self) -> str:
        return self._id

    @property
    def spec(self) -> SandboxSpec:
        return self._spec

    def _call(self, method: str, *args: Any, timeout: float | None = 300.0) -> Any:
        if self._closed:
            raise SandboxDead(f"ray sandbox {self._id} is closed; acquire a new one")
        ray = _ray()
        try:
            return ray.get(getattr(self._actor, method).remote(*args), timeout=timeout)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SandboxError):
                raise cause from None
            raise SandboxError(f"ray sandbox {self._id}: {method} failed: {exc}") from exc
        except ray.exceptions.RayActorError as exc:
            raise SandboxDead(
                f"ray sandbox {self._id} on node {self.node_id[:12]} is gone (its actor died or "
                f"the node left the cluster) during {method}: acquire a new sandbox."
            ) from exc
        except ray.exceptions.GetTimeoutError as exc:
            raise SandboxError(
                f"ray sandbox {self._id}: {method} got no answer in {timeout} s"
            ) from exc

    def run(self, command: str, timeout: float = 60.0, session: str = "default") -> ExecResult:
        result: ExecResult = self._call(
            "run", command, timeout, session, timeout=timeout + _CALL_MARGIN_S
        )
        return result

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._call("write", path, data, mode)

    def audit(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._call("audit")
        return events

    def set_allowlist(self, rules: Sequence[str]) -> None:
        self._call("set_allowlist", list(rules))

    def read(self, path: str, max_bytes: int = READ_LIMIT) -> bytes:
        data: bytes = self._call("read", path, max_bytes)
        return data

    def upload(self, local_path: str | Path, path: str) -> None:
        local = Path(local_path)
        if not local.exists():
            raise SandboxError(f"no such host path to upload: {local}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            tf.add(str(local), arcname=local.name or "payload")
        self._call("upload_tar", buf.getvalue(), local.name or "payload", path)

    def download(self, path: str, local_path: str | Path, max_bytes: int = DOWNLOAD_LIMIT) -> None:
        """Held in memory once on each side (capped by `max_bytes`), extracted here by the
        same rules as on the sandbox's node (`hostcopy.unpack_tar`)."""
        archive: bytes = self._call("download_tar", path, max_bytes)
        unpack_tar(io.BytesIO(archive), path, Path(local_path), max_bytes)

    def snapshot(self) -> str:
        snap: str = self._call("snapshot")
        return snap

    def restore(self, snapshot_id: str) -> None:
        """Restore in the actor; the backend may swap containers, so the id is re-read."""
        self._call("restore", snapshot_id)
        self._id = str(self._call("describe")["id"])

    def alive(self) -> bool:
        try:
            return bool(self._call("alive", timeout=30.0))
        except SandboxError:
            return False

    def close(self) -> None:
        """Close the sandbox, then end its actor. Safe to call twice."""
        if self._closed:
            return
        ray = _ray()
        try:
            ray.get(self._actor.close.remote(), timeout=60)
        except Exception:  # actor already dead: gc / TTL remove the container
            pass
        finally:
            self._closed = True
            ray.kill(self._actor, no_restart=True)
            if self._pool is not None:
                self._pool._forget(self)

    def __repr__(self) -> str:
        return f"RaySandbox(id={self._id!r}, node={self.node_id[:12]!r})"


class RaySandboxPool:
    """Places sandboxes of `spec` as Ray actors across the nodes of the connected cluster.

    Connect first (`ray.init(address=...)`), or pass `address` and the pool connects. Each
    `acquire()` starts one actor (placement above) whose sandbox is started before it returns;
    `acquire_many(n)` starts n in parallel. `release(sb)` / `sb.close()` closes the sandbox and
    kills its actor; `close()` closes every sandbox of the pool. Thread-safe.

    Arguments: `backend` is the sandbox backend on the nodes ("docker", "local", "auto");
    `num_cpus` is the Ray CPU each actor reserves (0: sandboxes are limited by their own
    `spec.cpus`, not by Ray); `node_resource` / `resource_per_sandbox` see module docstring.
    """

    def __init__(
        self,
        spec: SandboxSpec | None = None,
        backend: str = "docker",
        placement: Placement = "spread",
        node_resource: str | None = None,
        resource_per_sandbox: float = 1.0,
        num_cpus: float = 0.0,
        address: str | None = None,
    ) -> None:
        if placement not in ("spread", "ray"):
            raise SandboxError(f"placement {placement!r}: choose 'spread' or 'ray'")
        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(address=address or "auto", include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError) as exc:
                raise BackendUnavailable(
                    f"no Ray cluster at {address or 'auto'} ({exc}): start one (`ray start --head "
                    "--resources='{\"ale_sandbox\": 8}'`), or call ray.init() before creating the pool."
                ) from exc
        self.pool_id = uuid.uuid4().hex[:12]
        self.spec = replace(
            spec or SandboxSpec(),
            labels={**(spec or SandboxSpec()).labels, LABEL_RAY_POOL: self.pool_id},
        )
        self.backend, self.placement = backend, placement
        self.node_resource, self.resource_per_sandbox = node_resource, resource_per_sandbox
        self.num_cpus = num_cpus
        self._live: dict[int, RaySandbox] = {}
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._closed = False

    def nodes(self) -> list[str]:
        """Ids of the alive nodes this pool may place sandboxes on."""
        found = eligible_nodes(_ray().nodes(), self.node_resource)
        if not found:
            what = f"with resource {self.node_resource!r}" if self.node_resource else "alive"
            raise BackendUnavailable(
                f"no Ray node {what} to place sandboxes on: start nodes with "
                f"`ray start --resources='{{\"{self.node_resource or 'ale_sandbox'}\": 8}}'`."
            )
        return found

    def load(self) -> dict[str, int]:
        """Live (and starting) sandboxes of this pool per node id."""
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> dict[str, int]:
        out = dict(self._pending)
        for sb in self._live.values():
            out[sb.node_id] = out.get(sb.node_id, 0) + 1
        return out

    def _options(self, node: str | None) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "num_cpus": self.num_cpus,
            "max_restarts": 0,
            "name": f"ale-sandbox-{self.pool_id}-{next(self._seq)}",
        }
        if self.node_resource:
            opts["resources"] = {self.node_resource: self.resource_per_sandbox}
        if node is not None:
            opts.update(pinned(node))
        return opts

    def _start(self) -> tuple[Any, str | None]:
        with self._lock:
            if self._closed:
                raise SandboxError("this RaySandboxPool is closed")
        node = None
        if self.placement == "spread":
            candidates = self.nodes()
            with self._lock:  # pick and count atomically: concurrent acquires spread too
                node = pick_spread(candidates, self._load_locked())
                self._pending[node] = self._pending.get(node, 0) + 1
        try:
            actor = _actor_class().options(**self._options(node)).remote(self.spec, self.backend)
        except BaseException:
            if node is not None:
                with self._lock:
                    self._pending[node] -= 1
            raise
        return actor, node

    def _finish(self, actor: Any, node: str | None, timeout: float) -> RaySandbox:
        ray = _ray()
        try:
            info = ray.get(actor.describe.remote(), timeout=timeout)
        except Exception as exc:
            ray.kill(actor, no_restart=True)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SandboxError):
                raise cause from None
            raise SandboxError(
                f"starting a sandbox actor on {node or 'the cluster'} failed: {exc}"
            ) from exc
        finally:
            if node is not None:
                with self._lock:
                    self._pending[node] -= 1
        sb = RaySandbox(actor, self.spec, info, pool=self)
        with self._lock:
            self._live[id(sb)] = sb
        return sb

    def acquire(self, timeout: float = 300.0) -> RaySandbox:
        """A started sandbox on the next node by the placement rule."""
        actor, node = self._start()
        return self._finish(actor, node, timeout)

    def acquire_many(self, n: int, timeout: float = 300.0) -> list[RaySandbox]:
        """`n` sandboxes started in parallel (placed one after another by the rule)."""
        started = [self._start() for _ in range(n)]
        out: list[RaySandbox] = []
        for i, (actor, node) in enumerate(started):
            try:
                out.append(self._finish(actor, node, timeout))
            except BaseException:
                for sb in out:
                    sb.close()
                for later, later_node in started[i + 1 :]:
                    _ray().kill(later, no_restart=True)
                    if later_node is not None:
                        with self._lock:
                            self._pending[later_node] -= 1
                raise
        return out

    def release(self, sandbox: RaySandbox) -> None:
        """Close `sandbox` and end its actor (a sandbox is never handed out twice)."""
        sandbox.close()

    def _forget(self, sandbox: RaySandbox) -> None:
        with self._lock:
            self._live.pop(id(sandbox), None)

    def live(self) -> list[RaySandbox]:
        with self._lock:
            return list(self._live.values())

    def close(self) -> None:
        """Close every live sandbox of the pool. Safe to call twice."""
        with self._lock:
            self._closed = True
        for sb in self.live():
            sb.close()

    def __enter__(self) -> RaySandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
