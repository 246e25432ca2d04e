"""State directories and overlay roots of local sandboxes (host side, needs root).

`ale_home()/local/<id>/` holds `upper/` and `work/` of an overlay mounted at `merged/` over
the read-only root filesystem of the sandbox's image, plus the sandbox's bookkeeping (see
`Layout`). Snapshots are copies of `upper/` (whiteouts and opaque-directory xattrs included),
so restoring one is: unmount, replace `upper/`, mount again.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

from envs.rock.errors import BackendUnavailable, SandboxError
from envs.rock.home import ale_home
from envs.rock.mounts import unmount_below

#: The environment of host-side helpers (mount, cp, nsenter, bwrap); never the sandbox's.
HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
SANDBOX_ID = re.compile(r"[0-9a-f]{12}")
_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def local_root() -> Path:
    """Where local sandboxes keep their state directories."""
    return ale_home() / "local"


@dataclasses.dataclass(frozen=True)
class Layout:
    """The state directory of one sandbox."""

    dir: Path

    @classmethod
    def of(cls, sid: str) -> Layout:
        """The layout of sandbox `sid`; refuses anything but an id (no path tricks)."""
        if not SANDBOX_ID.fullmatch(sid):
            raise SandboxError(f"{sid!r} is not a local sandbox id (12 hex digits)")
        return cls(local_root() / sid)

    @property
    def sid(self) -> str:
        return self.dir.name

    @property
    def upper(self) -> Path:
        return self.dir / "upper"

    @property
    def work(self) -> Path:
        return self.dir / "work"

    @property
    def merged(self) -> Path:
        """The sandbox's `/` as the host sees it."""
        return self.dir / "merged"

    @property
    def sysfs(self) -> Path:
        """A read-only sysfs mounted from the sandbox's network namespace."""
        return self.dir / "sys"

    @property
    def snapshots(self) -> Path:
        return self.dir / "snapshots"

    @property
    def labels(self) -> Path:
        """`owner_labels` as JSON, written first so that gc always finds the sandbox."""
        return self.dir / "labels.json"

    @property
    def state(self) -> Path:
        """Spec and init pid as JSON, for `LocalSandbox.attach`."""
        return self.dir / "state.json"

    @property
    def log(self) -> Path:
        """What the init's bwrap said (start-up errors)."""
        return self.dir / "init.log"


def run_host(argv: list[str], what: str) -> None:
    """Run a host tool; `SandboxError` with its output if it fails."""
    done = subprocess.run(argv, capture_output=True, env=HOST_ENV, check=False)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
        raise SandboxError(f"{what} failed (exit {done.returncode}): {said}")


def umount(path: Path) -> None:
    """Unmount `path` (and what a path policy mounted below it) if it is a mount point;
    lazily as a last resort."""
    unmount_below(path)
    for flags in (0, 0, 0, _MNT_DETACH):
        if not os.path.ismount(path):
            return
        if _libc.umount2(os.fsencode(path), flags) == 0:
            continue
        if ctypes.get_errno() in (errno.EINVAL, errno.ENOENT):
            return
        time.sleep(0.1)
    if os.path.ismount(path):
        raise SandboxError(f"cannot unmount {path}")


def mount_overlay(lower: Path, layout: Layout) -> None:
    """Mount `upper/` over `lower` at `merged/` (nosuid, nodev: nothing the sandbox writes
    becomes a setuid binary or a device for the host)."""
    dirs = [lower.resolve(), layout.upper, layout.work, layout.merged]
    if any(c in str(d) for d in dirs for c in ",:"):
        raise SandboxError(f"overlay paths must not contain ',' or ':': {dirs} (set $ALE_HOME)")
    opts = f"nosuid,nodev,lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}"
    try:
        run_host(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(layout.merged)],
            f"mounting the overlay root of sandbox {layout.sid}",
        )
    except SandboxError as exc:
        raise BackendUnavailable(
            f"{exc}. The local backend needs overlayfs (root, Linux >= 4.0)."
        ) from exc


def copy_tree(src: Path, dest: Path, what: str) -> None:
    """`cp -a --reflink=auto`: owners, modes, xattrs (overlay's opaque marks) and whiteouts."""
    run_host(["cp", "-a", "--reflink=auto", str(src), str(dest)], what)


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def merge_upper(upper: Path, dest: Path) -> None:
    """Apply an overlay's upper dir onto `dest`, a hard-linked copy of its lower dir: whiteouts
    delete, opaque dirs replace, a changed type replaces, everything else is copied over with
    the destination unlinked first (`cp --remove-destination`), so no write goes through a
    hard link into the lower tree."""
    whiteouts, opaque = [], []
    for root, dirs, files in os.walk(upper):
        here = Path(root)
        target = dest / here.relative_to(upper)
        if here != upper and _opaque(here):
            opaque.append(target)
            for child in list(target.iterdir()) if target.is_dir() else []:
                _remove(child)
        for name in [*dirs, *files]:
            src, dst = here / name, target / name
            st = os.lstat(src)
            if _whiteout(st):
                whiteouts.append(dst)
                _remove(dst)
            elif stat.S_ISDIR(st.st_mode) != (dst.is_dir() and not dst.is_symlink()):
                _remove(dst)
    run_host(
        ["cp", "-a", "--remove-destination", f"{upper}/.", f"{dest}/"],
        f"merging {upper} into {dest}",
    )
    for path in whiteouts:  # cp copied the whiteout devices themselves
        _remove(path)
    for path in opaque:  # meaningless in a lower dir; dropped so the tree reads plainly
        with contextlib.suppress(OSError):
            os.removexattr(path, "trusted.overlay.opaque", follow_symlinks=False)


def replace_upper(layout: Layout, snapshot: Path, lower: Path) -> None:
    """Unmount the root, make `upper/` a copy of `snapshot`, mount again (processes stopped)."""
    for mount in (layout.sysfs, layout.merged):
        umount(mount)
    for d in (layout.upper, layout.work):
        shutil.rmtree(d)
    copy_tree(snapshot, layout.upper, f"restoring {snapshot} into {layout.sid}")
    layout.work.mkdir()
    mount_overlay(lower, layout)
