"""A `PathPolicy` as mounts under a local sandbox's root, made from the host (needs root).

Made on the host under `merged/` before the sandbox's init starts, so the init and every shell
(bwrap binds `merged/` recursively) and the host-side file operations see the same view:

* `read_only`: the path bound onto itself, then remounted read-only;
* `hidden`: a directory gets an empty read-only tmpfs on top, a file an empty read-only file;
  under `/proc`, `/sys` and `/dev` (mounted by bwrap per shell) the same is done by bwrap
  arguments (`bwrap_args`);
* `read_only_root`: the writable paths (workdir, `writable`, `ALWAYS_WRITABLE`) are bound
  onto themselves first, then the root mount is remounted read-only.

Every path is resolved inside the sandbox root by the kernel (`openat2(RESOLVE_IN_ROOT)`) and
mounted through its `/proc/self/fd` link, so a link in the image (or a snapshot) can never
aim a mount at the host's files. Processes in the sandbox lack CAP_SYS_ADMIN: they cannot
unmount or remount any of it; `chmod`, `rm`, `mv` and writes through links get EROFS/EBUSY.
"""

from __future__ import annotations

import ctypes
import os
import stat
from pathlib import Path

from envs.rock.errors import SandboxError
from envs.rock.inroot import SandboxRoot, openat2
from envs.rock.policy import PathPolicy, SandboxPolicyError

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MNT_DETACH = 0x20, 0x1000, 0x2
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype)]
    if _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), data.encode() or None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _open_in(root: Path, path: str) -> int:
    """An O_PATH fd of `path` resolved inside `root` (no link leaves it)."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return openat2(root_fd, path, os.O_PATH)
    finally:
        os.close(root_fd)


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def _remount_ro(root: Path, path: str) -> None:
    """Remount the topmost mount at `path` (resolved again: the new mount) read-only."""
    fd = _open_in(root, path)
    try:
        _mount(None, _fd_path(fd), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    finally:
        os.close(fd)


def _bind_onto_itself(root: Path, path: str) -> None:
    fd = _open_in(root, path)
    try:
        _mount(_fd_path(fd), _fd_path(fd), None, MS_BIND)
    finally:
        os.close(fd)


PSEUDO_ROOTS = ("/proc/", "/sys/", "/dev/")


def _pseudo(path: str) -> bool:
    return path.startswith(PSEUDO_ROOTS)


def empty_file(state_dir: Path) -> Path:
    """A read-only empty file of the sandbox's state dir, mounted over hidden files."""
    path = state_dir / "empty"
    if not path.exists():
        path.touch(mode=0o444)
    return path


def _hide(root: Path, path: str, empty: Path) -> None:
    try:
        fd = _open_in(root, path)
    except FileNotFoundError:
        return  # nothing there to hide
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            _mount("tmpfs", _fd_path(fd), "tmpfs", flags, "size=4k,mode=0755")
            return
        _mount(str(empty), _fd_path(fd), None, MS_BIND)
    finally:
        os.close(fd)
    _remount_ro(root, path)


def bwrap_args(paths: PathPolicy, empty: Path) -> list[str]:
    """bwrap arguments (after its `/proc`, `/sys`, `/dev`) hiding the paths under them that
    exist on this host (the sandbox's pseudo files are the kernel's, as the host's)."""
    args: list[str] = []
    for p in paths.hidden:
        if not _pseudo(p) or not os.path.lexists(p):
            continue
        if os.path.isdir(p) and not os.path.islink(p):
            args += ["--tmpfs", p, "--remount-ro", p]
        else:
            args += ["--ro-bind", str(empty), p]
    return args


def apply_paths(root: Path, paths: PathPolicy, workdir: str, empty: Path) -> None:
    """Make the mounts of `paths` under `root` (a sandbox's merged dir, no process inside);
    `empty` is the empty file that hides files. Paths under /proc, /sys and /dev are left to
    `bwrap_args`."""
    if paths.empty:
        return
    try:
        if paths.read_only_root:
            files = SandboxRoot(root, describe=f"sandbox root {root}")
            for p in paths.writable_under_ro_root(workdir):
                files.makedirs(p)
                _bind_onto_itself(root, p)
        for p in paths.read_only:
            if _pseudo(p):
                raise SandboxPolicyError(
                    f"read-only path {p!r}: /proc, /sys and /dev are already read-only or "
                    "per-sandbox on the local backend; drop it from read_only"
                )
            try:
                _bind_onto_itself(root, p)
            except FileNotFoundError:
                raise SandboxPolicyError(
                    f"read-only path {p!r} does not exist in the sandbox's image; create it "
                    "in the image or drop it from the policy"
                ) from None
            _remount_ro(root, p)
        for p in paths.hidden:
            if not _pseudo(p):
                _hide(root, p, empty)
        if paths.read_only_root:
            fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
                _mount(None, _fd_path(fd), None, flags)
            finally:
                os.close(fd)
    except OSError as exc:
        unmount_below(root)
        raise SandboxError(f"applying the sandbox's path policy failed: {exc}") from exc


def unmount_below(root: Path) -> None:
    """Detach every mount strictly below `root` (deepest first); `root` itself stays."""
    prefix = os.fsencode(os.path.realpath(root)) + b"/"
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            points = [line.split(b" ")[4] for line in f]
    except OSError:
        return
    below = sorted({p for p in points if p.startswith(prefix)}, key=len, reverse=True)
    for point in below:
        _libc.umount2(point.replace(b"\\040", b" "), MNT_DETACH)
