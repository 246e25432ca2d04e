"""Resource limits for local sandboxes: one cgroup per sandbox, cgroup v1 or v2.

v1 (one hierarchy per controller): `/sys/fs/cgroup/{memory,pids,cpu}/ale/<id>`, plus
`freezer/ale/<id>` where that controller is mounted. v2 (`/sys/fs/cgroup` is cgroup2):
`/sys/fs/cgroup/ale/<id>` with the memory, pids and cpu controllers enabled on the way down.

Limits: memory (swap == memory: `memory.memsw.limit_in_bytes` / `memory.swap.max = 0`),
`pids.max`, and a CFS quota of `cpus` cores per 100 ms period. Processes join a cgroup by
writing their own pid (`enter_script`), so a wrapper is limited before it execs the sandbox.

Memory and pids are required (containment depends on them). The cpu controller and the
freezer are optional: without cpu the sandbox runs without a CPU quota (a `RuntimeWarning`
says so, and commands are still ended by their timeouts); without a freezer, snapshots copy
a live upper dir and `kill` re-scans the cgroup until it is empty.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from envs.rock.errors import BackendUnavailable, SandboxError

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "ale"
V1_REQUIRED = ("memory", "pids")
V1_OPTIONAL = ("cpu", "freezer")
CFS_PERIOD_US = 100_000
_POLL_S = 0.02


@dataclass(frozen=True)
class CgroupLimits:
    """What one sandbox may use: bytes of memory (swap included), processes, cores."""

    memory_bytes: int
    pids: int
    cpus: float


def cgroup_version(root: Path = CGROUP_ROOT) -> int:
    """2 where `root` is a unified (cgroup2) hierarchy, else 1."""
    return 2 if (root / "cgroup.controllers").is_file() else 1


def _write(path: Path, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:  # name the file: the kernel's errors say little on their own
        raise OSError(exc.errno, f"writing {value!r}: {exc.strerror}", str(path)) from exc


def _warn_no_cpu(limits: CgroupLimits) -> None:
    warnings.warn(
        f"no cgroup cpu controller here: a local sandbox runs without its {limits.cpus}-core "
        "CPU quota (memory and pids limits still apply; commands still time out).",
        RuntimeWarning,
        stacklevel=3,
    )


class SandboxCgroup:
    """The cgroup directories of one sandbox (several under v1, one under v2)."""

    def __init__(self, name: str, root: Path = CGROUP_ROOT) -> None:
        """`name` is the sandbox id; nothing is created until `create`."""
        self.name = name
        self.root = root
        self.version = cgroup_version(root)
        if self.version == 2:
            self.dirs = {"unified": root / PARENT / name}
        else:
            wanted = V1_REQUIRED + tuple(c for c in V1_OPTIONAL if (root / c).is_dir())
            self.dirs = {c: root / c / PARENT / name for c in wanted}

    # -- creation ------------------------------------------------------------------------
    def create(self, limits: CgroupLimits) -> None:
        """Make the directories and write the limits; `BackendUnavailable` says why not."""
        if os.geteuid() != 0:
            raise BackendUnavailable(
                "the local backend needs root to create cgroups (and overlay mounts); run as "
                "root, or use backend='docker'."
            )
        try:
            if self.version == 2:
                self._create_v2(limits)
            else:
                self._create_v1(limits)
        except OSError as exc:
            self.remove()
            raise BackendUnavailable(
                f"cannot set up cgroup limits for a local sandbox ({exc}); the local backend "
                f"needs writable cgroups under {self.root} (cgroup v1 memory and pids "
                "controllers, or cgroup v2). Sandboxes never run without limits: use "
                "backend='docker' here."
            ) from exc

    def _create_v1(self, limits: CgroupLimits) -> None:
        for controller in V1_REQUIRED:
            if not (self.root / controller).is_dir():
                raise OSError(
                    errno.ENOENT, "cgroup v1 controller not mounted", str(self.root / controller)
                )
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (mem / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: no swap
            _write(mem / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        _write(self.dirs["pids"] / "pids.max", str(limits.pids))
        cpu = self.dirs.get("cpu")
        if cpu is None:
            _warn_no_cpu(limits)
            return
        _write(cpu / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        quota = int(limits.cpus * CFS_PERIOD_US) if limits.cpus > 0 else -1
        _write(cpu / "cpu.cfs_quota_us", str(max(quota, 1000) if quota > 0 else -1))

    def _create_v2(self, limits: CgroupLimits) -> None:
        available = (self.root / "cgroup.controllers").read_text().split()
        missing = [c for c in V1_REQUIRED if c not in available]
        if missing:
            raise OSError(
                errno.ENOENT,
                f"cgroup v2 controllers {missing} are not available",
                str(self.root / "cgroup.controllers"),
            )
        wanted = [c for c in (*V1_REQUIRED, "cpu") if c in available]
        parent = self.root / PARENT
        parent.mkdir(exist_ok=True)
        for level in (self.root, parent):
            enabled = (level / "cgroup.subtree_control").read_text().split()
            missing = [f"+{c}" for c in wanted if c not in enabled]
            if missing:
                _write(level / "cgroup.subtree_control", " ".join(missing))
        d = self.dirs["unified"]
        d.mkdir(exist_ok=True)
        _write(d / "memory.max", str(limits.memory_bytes))
        if (d / "memory.swap.max").exists():
            _write(d / "memory.swap.max", "0")
        _write(d / "pids.max", str(limits.pids))
        if "cpu" not in wanted:
            _warn_no_cpu(limits)
            return
        quota = int(limits.cpus * CFS_PERIOD_US) if limits.cpus > 0 else 0
        _write(
            d / "cpu.max",
            f"{max(quota, 1000)} {CFS_PERIOD_US}" if quota else f"max {CFS_PERIOD_US}",
        )

    # -- membership ----------------------------------------------------------------------
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def enter_script(self) -> str:
        """A POSIX sh snippet that moves the running shell (`$$`) into every directory."""
        return " && ".join(f"echo $$ > {shlex.quote(str(f))}" for f in self.procs_files())

    def exists(self) -> bool:
        return any(d.is_dir() for d in self.dirs.values())

    def pids(self) -> list[int]:
        """Every process in the sandbox's cgroup(s), host pids."""
        found: set[int] = set()
        for f in self.procs_files():
            try:
                found.update(int(p) for p in f.read_text().split())
            except OSError:
                continue
        return sorted(found)

    def oom_kills(self) -> int:
        """OOM kills in this cgroup so far (`memory.oom_control` / `memory.events`)."""
        d = self.dirs.get("memory") or self.dirs.get("unified")
        assert d is not None
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (d / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    # -- freezing and killing ------------------------------------------------------------
    def freeze(self, frozen: bool, timeout: float = 5.0) -> bool:
        """Freeze (or thaw) every process; False where no freezer is available."""
        if self.version == 2:
            path, value, want = self.dirs["unified"] / "cgroup.freeze", "1" if frozen else "0", None
        elif "freezer" in self.dirs:
            state = "FROZEN" if frozen else "THAWED"
            path, value, want = self.dirs["freezer"] / "freezer.state", state, state
        else:
            return False
        try:
            _write(path, value)
            deadline = time.monotonic() + timeout
            while want and path.read_text().strip() != want and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            if want is None and frozen:  # v2: wait for `frozen 1` in cgroup.events
                events = self.dirs["unified"] / "cgroup.events"
                while "frozen 1" not in events.read_text() and time.monotonic() < deadline:
                    time.sleep(_POLL_S)
        except OSError:
            return False
        return True

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process in the cgroup and wait until it is empty.

        v2 uses `cgroup.kill`; v1 freezes first (where it can) so that nothing forks
        between listing and killing, then thaws so the kills are delivered.
        """
        if not self.exists():
            return
        deadline = time.monotonic() + timeout
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        while True:
            pids = self.pids()
            if not pids:
                return
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
            else:
                frozen = self.freeze(True, timeout=1.0)
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        continue
                if frozen:
                    self.freeze(False)
            if time.monotonic() > deadline:
                raise SandboxError(f"processes {pids[:10]} of cgroup {self.name} would not die")
            time.sleep(_POLL_S)

    def remove(self, timeout: float = 5.0) -> None:
        """Remove the directories (they must be empty of processes). Safe to call twice."""
        deadline = time.monotonic() + timeout
        for d in self.dirs.values():
            while d.is_dir():
                try:
                    d.rmdir()
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY while the last exits are accounted
                    if time.monotonic() > deadline:
                        raise SandboxError(f"cannot remove cgroup {d}: {exc}") from exc
                    time.sleep(_POLL_S)
