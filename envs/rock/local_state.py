"""State directories of local sandboxes: listing, status, and an ordered, resumable teardown.

A local sandbox owns three things on the host: processes (in its cgroup), mounts (its overlay
root and sysfs under the state directory) and the state directory `ale_home()/local/<id>/`
itself with `labels.json` (owner and expiry, written first at creation). `gc` finds sandboxes
by their state directories, so teardown removes things in the reverse order of their
importance to it, and a teardown killed at any point (SIGKILL of the driver, the gc or the
TTL reaper) leaves something the next `gc` finds and finishes:

1. `removing` marker (the journal: the sandbox reads as "exited" from now on);
2. every process, the init first (`stop`);
3. the mounts; 4. the cgroup directories;
5. everything in the state directory but `labels.json` and the marker;
6. `labels.json`, the marker, then the directory.

A state directory without `labels.json` (an interrupted teardown, or one that was never
labelled) is still listed, owned by the directory's uid on this host and expiring
`STARTING_GRACE_S` after its last change, so `gc` collects it once nobody can be creating it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from envs.rock.api import (
    APP_NAME,
    LABEL_APP,
    LABEL_BACKEND,
    LABEL_EXPIRES_AT,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_UID,
)
from envs.rock.cgroups import SandboxCgroup
from envs.rock.errors import SandboxError
from envs.rock.overlay import SANDBOX_ID, Layout, local_root, umount
from envs.rock.shell import ShellSession

BACKEND = "local"
#: How long a state directory may look half-made (no labels, no init) while being created.
STARTING_GRACE_S = 120.0
REMOVING = "removing"
_PF_EXITING = 0x4  # include/linux/sched.h


def proc_start(pid: int, exiting_is_gone: bool = True) -> str | None:
    """The start time of a live process, None once it is a zombie or gone, and (unless
    `exiting_is_gone` is False) once it is exiting.

    A killed init is "exiting" (`PF_EXITING`) until every process of its namespace is gone
    (zombies whose parent is outside included): it must read as dead from the first moment,
    or a new shell would try to join it; `stop` still waits for it to be gone.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        exiting = exiting_is_gone and int(fields[6]) & _PF_EXITING
    except (OSError, IndexError, ValueError):
        return None
    return None if exiting or fields[0] in ("Z", "X") else fields[19]


def write_state(layout: Layout, state: dict[str, object]) -> None:
    """Replace `state.json` atomically (a concurrent `gc` never reads half a file)."""
    tmp = layout.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.rename(layout.state)


def stop(
    layout: Layout,
    proc: subprocess.Popen[bytes] | None = None,
    sessions: Iterable[ShellSession] = (),
    init: tuple[int, str] | None = None,
) -> None:
    """Kill every process of the sandbox and wait until they are gone.

    The init goes first: the kernel then kills its whole pid namespace while each session's
    bwrap monitor (outside the namespace) is still there to reap its shell, so no zombie is
    left to the host's init, which may reap slowly. Then the sessions' host-side wrappers
    and anything else in the cgroup.
    """
    try:
        state = json.loads(layout.state.read_text())
        pid, start = init or (int(state["init_pid"]), str(state["init_start"]))
    except (OSError, ValueError, KeyError):
        pid, start = init or (0, "")
    if pid and proc_start(pid, exiting_is_gone=False) == start:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while proc_start(pid, exiting_is_gone=False) == start and time.monotonic() < deadline:
            time.sleep(0.002)
    for session in sessions:
        session.close()
    SandboxCgroup(layout.sid).kill()
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _mark_removing(layout: Layout) -> None:
    with contextlib.suppress(FileNotFoundError):  # no directory: nothing left to journal
        (layout.dir / REMOVING).touch()


def _unmount(layout: Layout) -> None:
    for mount in (layout.sysfs, layout.merged):
        umount(mount)


def _remove_contents(layout: Layout) -> None:
    """Everything in the state directory but the labels and the marker (mounts are gone)."""
    keep = {layout.labels.name, REMOVING}
    for entry in sorted(layout.dir.iterdir()) if layout.dir.is_dir() else []:
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        if entry.exists() or entry.is_symlink():
            raise SandboxError(f"cannot remove {entry}; `ale sandbox gc` will retry")


def _remove_record(layout: Layout) -> None:
    """The labels last, then the directory (a concurrent gc may be removing it too)."""
    layout.labels.unlink(missing_ok=True)
    (layout.dir / REMOVING).unlink(missing_ok=True)
    deadline = time.monotonic() + 2.0
    while layout.dir.exists():
        shutil.rmtree(layout.dir, ignore_errors=True)
        if time.monotonic() > deadline and layout.dir.exists():
            raise SandboxError(f"cannot remove {layout.dir}; `ale sandbox gc` will retry")
        time.sleep(0.01)


def teardown_steps(
    layout: Layout,
    proc: subprocess.Popen[bytes] | None = None,
    sessions: Iterable[ShellSession] = (),
) -> list[tuple[str, Callable[[], None]]]:
    """The ordered steps of `teardown` (see the module docstring), each safe to repeat."""
    return [
        ("mark", lambda: _mark_removing(layout)),
        ("stop", lambda: stop(layout, proc, sessions)),
        ("unmount", lambda: _unmount(layout)),
        ("cgroup", lambda: SandboxCgroup(layout.sid).remove()),
        ("contents", lambda: _remove_contents(layout)),
        ("record", lambda: _remove_record(layout)),
    ]


def teardown(
    layout: Layout,
    proc: subprocess.Popen[bytes] | None = None,
    sessions: Iterable[ShellSession] = (),
) -> None:
    """Kill every process, unmount, remove cgroups and the state directory, in that order.

    Safe on a half-created or half-removed sandbox; where a step fails, the labels stay and
    a later `gc` retries.
    """
    for _, step in teardown_steps(layout, proc, sessions):
        step()


def _unlabelled(path: Path) -> dict[str, str]:
    """Labels for a state directory (or cgroup) that has none: this host, its owner's uid,
    expiring once it has not changed for `STARTING_GRACE_S`."""
    st = path.stat()
    return {
        LABEL_APP: APP_NAME,
        LABEL_BACKEND: BACKEND,
        LABEL_OWNER_HOST: socket.gethostname(),
        LABEL_OWNER_UID: str(st.st_uid),
        LABEL_OWNER_PID: "0",
        LABEL_EXPIRES_AT: f"{st.st_mtime + STARTING_GRACE_S:.0f}",
    }


def list_local_sandboxes() -> list[tuple[str, dict[str, str]]]:
    """(id, labels) of every local sandbox on this host, alive or not, labelled or not (a
    teardown was interrupted), and of cgroups left without a state directory."""
    root = local_root()
    found: dict[str, dict[str, str]] = {}
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if not SANDBOX_ID.fullmatch(d.name) or not d.is_dir() or d.is_symlink():
            continue
        try:
            labels = json.loads((d / "labels.json").read_text())
        except (OSError, ValueError):
            labels = None
        with contextlib.suppress(OSError):
            found[d.name] = (
                {str(k): str(v) for k, v in labels.items()}
                if isinstance(labels, dict)
                else _unlabelled(d)
            )
    for parent in {d.parent for d in SandboxCgroup("0" * 12).dirs.values()}:
        for d in sorted(parent.iterdir()) if parent.is_dir() else []:
            if SANDBOX_ID.fullmatch(d.name) and d.name not in found and d.is_dir():
                with contextlib.suppress(OSError):
                    found[d.name] = _unlabelled(d)
    return sorted(found.items())


def local_sandbox_status(sandbox_id: str) -> str:
    """ "running" while the init lives, "starting" while being created or restored (for at
    most `STARTING_GRACE_S`), else "exited" (`gc` removes exited sandboxes); "exited" too
    once a teardown began. "leftover": only a cgroup remains (gc removes it as an orphan)."""
    layout = Layout.of(sandbox_id)
    if not layout.dir.is_dir():
        return "leftover"
    if (layout.dir / REMOVING).exists():
        return "exited"
    try:
        state = json.loads(layout.state.read_text())
        pid, start = int(state["init_pid"]), str(state["init_start"])
    except (OSError, ValueError, KeyError):
        pid, start = 0, ""
    if pid:
        return "running" if proc_start(pid) == start else "exited"
    newest = 0.0
    for f in (layout.dir, layout.labels, layout.state):
        with contextlib.suppress(OSError):
            newest = max(newest, f.stat().st_mtime)
    return "starting" if time.time() - newest < STARTING_GRACE_S else "exited"


def remove_local_sandbox(sandbox_id: str) -> None:
    """Force-remove one local sandbox, whatever its state (used by `gc` and `ale sandbox rm`)."""
    teardown(Layout.of(sandbox_id))


def reap(state_dir: str) -> None:
    """Remove an expired sandbox; run on the host by its init's wrapper when the TTL ends.

    This is the automatic half of TTL collection: no driver and no `gc` needed.
    """
    layout = Layout(Path(state_dir))
    if SANDBOX_ID.fullmatch(layout.sid) and layout.dir.is_dir():
        teardown(layout)
