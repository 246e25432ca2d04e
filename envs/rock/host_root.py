"""A local container's root filesystem, reached from this host through `/proc/<pid>/root`.

Docker's archive API (`put_archive` / `get_archive`) costs the engine a mount of the
container's filesystem per call: about 75 ms for a 4 KiB file on the build machine, which
made file writes and reads most of a SWE-bench grading's time. When the engine runs on this
host, under our user namespace, and we may open the container's init process's root, the
same file operations go straight to the container's filesystem through `SandboxRoot`
(`openat2(RESOLVE_IN_ROOT)`: nothing resolves outside the container's root) in microseconds.

The init process is held by a pidfd, and every operation checks it is alive *after* opening
`/proc/<pid>/root`, so a recycled pid can never point an operation at another process's root
(the host's, say): a dead container raises `SandboxDead`, as the API path does.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from envs.rock.errors import SandboxDead
from envs.rock.inroot import SandboxRoot


class ContainerRoot(SandboxRoot):
    """`SandboxRoot` of a running container whose init process is `pid` on this host."""

    def __init__(self, pid: int, pidfd: int, describe: str) -> None:
        super().__init__(Path(f"/proc/{pid}/root"), describe)
        self.pid, self._pidfd = pid, pidfd

    @contextmanager
    def _root_fd(self) -> Iterator[int]:
        if self._pidfd < 0:
            raise SandboxDead(f"{self.describe} is closed; create a new sandbox")
        gone = (
            f"{self.describe} is gone (its init process exited: killed, TTL expired, or "
            "the engine restarted); create a new sandbox"
        )
        try:
            fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise SandboxDead(gone) from exc
        try:
            try:  # alive after the open: the fd is this container's root, not a recycled pid's
                signal.pidfd_send_signal(self._pidfd, 0)
            except ProcessLookupError as exc:
                raise SandboxDead(gone) from exc
            yield fd
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the pidfd. Safe to call twice."""
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


def open_container_root(container_id: str, pid: int, describe: str) -> ContainerRoot | None:
    """The root of container `container_id` (init `pid` as the engine reports it), or None
    when it cannot be reached safely from here: the engine runs elsewhere, the pid is not that
    container's, it runs in another user namespace (userns-remap, rootless), or we may not
    open its root (not root). Callers then use the engine's archive API."""
    if pid <= 0 or not hasattr(os, "pidfd_open"):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    ok = False
    try:  # checked while the pidfd pins the process: the pid cannot be recycled meanwhile
        cgroup = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8", errors="replace")
        same_userns = os.readlink(f"/proc/{pid}/ns/user") == os.readlink("/proc/self/ns/user")
        os.close(os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        signal.pidfd_send_signal(pidfd, 0)
        ok = container_id in cgroup and same_userns
    except OSError:
        ok = False
    finally:
        if not ok:
            with suppress(OSError):
                os.close(pidfd)
    return ContainerRoot(pid, pidfd, describe) if ok else None
