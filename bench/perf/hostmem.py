"""Host memory of sandboxes: what N idle sandboxes cost the machine, split by who holds it.

- `cgroup`: the sandbox's own cgroup (its processes' memory and page cache; `rss`: anonymous).
- `engine`: the host-side processes that exist for this sandbox alone, outside its cgroup (the
  ancestors of its processes up to a daemon, pid 1 or us: docker's `containerd-shim`, the local
  backend's `sh` + `bwrap` wrapper).
- daemons (`dockerd`, `containerd`) and this driver process: measured as deltas around starting
  the sandboxes (`MemoryProbe`), divided by their count.

Linux only (/proc, cgroup v1 or v2); a figure that cannot be read is 0 and `readable` says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
DAEMONS = ("dockerd", "containerd")
_STOP_AT = {*DAEMONS, "systemd", "init", "docker-init"}


def pid_rss_bytes(pid: int) -> int:
    """Resident set size of `pid` in bytes (VmRSS), 0 when it is gone or unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def daemon_pids() -> dict[str, int]:
    """{name: pid} of the container daemons running on this host."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (name := _comm(int(entry.name))) in DAEMONS:
            found.setdefault(name, int(entry.name))
    return found


def cgroup_dir(backend: str, sandbox_id: str, root: Path = CGROUP_ROOT) -> Path | None:
    """The memory cgroup folder of a sandbox (docker: by container id prefix; local: `ale/<id>`)."""
    if backend == "local":
        candidates = [root / "memory" / "ale" / sandbox_id, root / "ale" / sandbox_id]
    else:
        candidates = [
            *(root / "memory" / "docker").glob(f"{sandbox_id}*"),
            *(root / "system.slice").glob(f"docker-{sandbox_id}*.scope"),
            *(root / "docker").glob(f"{sandbox_id}*"),
        ]
    return next((c for c in candidates if c.is_dir()), None)


def cgroup_memory(folder: Path) -> tuple[int, int]:
    """(usage bytes incl. page cache, anonymous rss bytes) of a v1 or v2 memory cgroup."""
    stat: dict[str, int] = {}
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            stat[key] = int(value)
        if (folder / "memory.usage_in_bytes").is_file():  # v1
            usage = int((folder / "memory.usage_in_bytes").read_text())
            return usage, stat.get("total_rss", stat.get("rss", 0))
        return int((folder / "memory.current").read_text()), stat.get("anon", 0)
    except (OSError, ValueError):
        return 0, 0


def cgroup_pids(folder: Path) -> list[int]:
    try:
        return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def engine_side_pids(inside: list[int]) -> list[int]:
    """Host processes above `inside` (a sandbox's processes) that belong to it alone: walk up
    from each until a daemon, pid 1, a pid namespace boundary we cannot read, or this process."""
    mine, seen = os.getpid(), set(inside)
    out: list[int] = []
    for pid in inside:
        parent = _ppid(pid)
        while parent > 1 and parent != mine and parent not in seen:
            if _comm(parent) in _STOP_AT:
                break
            seen.add(parent)
            out.append(parent)
            parent = _ppid(parent)
    return out


@dataclass(frozen=True)
class SandboxMemory:
    """One sandbox's memory on the host, in bytes."""

    cgroup: int
    cgroup_rss: int
    engine: int
    engine_procs: list[str]
    readable: bool


def sandbox_memory(backend: str, sandbox_id: str) -> SandboxMemory:
    """Memory of one running sandbox (see the module docstring)."""
    folder = cgroup_dir(backend, sandbox_id)
    if folder is None:
        return SandboxMemory(0, 0, 0, [], False)
    usage, rss = cgroup_memory(folder)
    engine = engine_side_pids(cgroup_pids(folder))
    return SandboxMemory(
        usage, rss, sum(pid_rss_bytes(p) for p in engine), [_comm(p) for p in engine], True
    )


class MemoryProbe:
    """RSS of this process and of the container daemons, before and after (deltas in bytes)."""

    def __init__(self) -> None:
        self.daemons = daemon_pids()
        self.before = self._now()

    def _now(self) -> dict[str, int]:
        return {
            "driver": pid_rss_bytes(os.getpid()),
            **{n: pid_rss_bytes(p) for n, p in self.daemons.items()},
        }

    def deltas(self) -> dict[str, int]:
        now = self._now()
        return {k: now[k] - self.before.get(k, 0) for k in now}
