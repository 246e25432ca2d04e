"""File operations on a sandbox's root filesystem from the host, confined to that root.

Every path is resolved by the kernel with `openat2(RESOLVE_IN_ROOT)`: `/`, `..` and absolute
symlinks are all taken relative to the sandbox's root, so a link to `/etc/passwd` reaches the
sandbox's `/etc/passwd` and nothing resolves outside it, even if the sandbox swaps links
while we work. Opened files are checked to be regular files (a FIFO or device planted by the
sandbox cannot block or trick the driver). Errors are `SandboxFileError` naming the path.
"""

from __future__ import annotations

import ctypes
import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from envs.rock.errors import BackendUnavailable, SandboxFileError
from envs.rock.hostcopy import HostTree, add_fd
from envs.rock.pseudofs import refuse_pseudo, refuse_pseudo_path
from envs.rock.reads import DOWNLOAD_LIMIT, READ_LIMIT, read_capped, too_large

_SYS_OPENAT2 = 437  # the same number on every architecture with the generic syscall table
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
_RETRIES = 16  # openat2 answers EAGAIN when a concurrent rename raced the resolution
_libc = ctypes.CDLL(None, use_errno=True)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """`open` of `path` resolved inside the directory `root_fd` as if it were `/`."""
    if not flags & os.O_PATH:  # openat2 refuses O_PATH with any other flag but these
        flags |= os.O_NOCTTY
    how = _OpenHow(flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    try:
        encoded = os.fsencode(path.lstrip("/") or ".")
    except UnicodeEncodeError:
        raise OSError(errno.EINVAL, "a path must be valid text (a lone surrogate)", path) from None
    if b"\0" in encoded:  # C would see the path end there
        raise OSError(errno.EINVAL, "a path cannot contain a NUL byte", path)
    for _ in range(_RETRIES):
        fd = _libc.syscall(
            ctypes.c_long(_SYS_OPENAT2),
            ctypes.c_int(root_fd),
            ctypes.c_char_p(encoded),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            raise BackendUnavailable("the local backend needs Linux >= 5.6 (openat2)")
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, "path kept changing while being resolved", path)


def _parts(path: str) -> list[str]:
    """Components of an absolute sandbox path, `..` kept (the kernel clamps it at `/`)."""
    return [p for p in path.split("/") if p not in ("", ".")]


def _file_error(path: str, exc: OSError, doing: str) -> SandboxFileError:
    reason = {
        errno.ENOENT: "no such file or directory",
        errno.ENOTDIR: "a parent is not a directory",
        errno.EISDIR: "is a directory (use download() for trees)",
        errno.ELOOP: "too many levels of symbolic links",
        errno.EACCES: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on device",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return SandboxFileError(f"cannot {doing} {path!r} in the sandbox: {reason}")


class SandboxRoot:
    """A sandbox root directory on the host (the merged overlay), opened once per use."""

    def __init__(self, root: Path, describe: str = "the sandbox") -> None:
        self.root = root
        self.describe = describe

    @contextmanager
    def _root_fd(self) -> Iterator[int]:
        fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    # -- helpers on an open root ---------------------------------------------------------
    def _makedirs(self, root_fd: int, parts: list[str]) -> None:
        """`mkdir -p` inside the root: each prefix is resolved in the root, then created."""
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            try:
                os.close(openat2(root_fd, prefix, os.O_PATH | os.O_DIRECTORY))
                continue
            except FileNotFoundError:
                pass
            parent = openat2(root_fd, "/".join(parts[:i]), os.O_PATH | os.O_DIRECTORY)
            try:
                refuse_pseudo(parent, "/" + prefix, "create")
                os.mkdir(parts[i], 0o755, dir_fd=parent)
            except FileExistsError:
                pass  # raced, or a dangling link: the next resolution reports it
            finally:
                os.close(parent)
            os.close(openat2(root_fd, prefix, os.O_PATH | os.O_DIRECTORY))

    def _write(self, root_fd: int, path: str, data: bytes, mode: int) -> None:
        parts = _parts(path)
        if not parts:
            raise SandboxFileError("a file path inside the sandbox must not be '/'")
        self._makedirs(root_fd, parts[:-1])
        flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK
        fd = openat2(root_fd, "/".join(parts), flags, mode & 0o7777)
        try:
            refuse_pseudo(fd, path, "write")
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SandboxFileError(
                    f"cannot write {path!r} in {self.describe}: not a regular file"
                )
            os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode & 0o7777)
        finally:
            os.close(fd)

    def _symlink(self, root_fd: int, path: str, target: str) -> None:
        parts = _parts(path)
        self._makedirs(root_fd, parts[:-1])
        parent = openat2(root_fd, "/".join(parts[:-1]), os.O_PATH | os.O_DIRECTORY)
        try:
            refuse_pseudo(parent, path, "create")
            with suppress(FileNotFoundError):
                os.unlink(parts[-1], dir_fd=parent)
            os.symlink(target, parts[-1], dir_fd=parent)
        finally:
            os.close(parent)

    # -- public operations ---------------------------------------------------------------
    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write `data` at `path` (parents created, an existing file replaced)."""
        refuse_pseudo_path(path, "write")
        with self._root_fd() as root_fd:
            try:
                self._write(root_fd, path, data, mode)
            except OSError as exc:
                raise _file_error(path, exc, "write") from exc

    def makedirs(self, path: str) -> None:
        """`mkdir -p path` inside the root."""
        refuse_pseudo_path(path, "create directory")
        with self._root_fd() as root_fd:
            try:
                self._makedirs(root_fd, _parts(path))
            except OSError as exc:
                raise _file_error(path, exc, "create directory") from exc

    def read(self, path: str, max_bytes: int = READ_LIMIT) -> bytes:
        """The bytes of the regular file at `path` (symlinks followed inside the root),
        streamed; `ReadLimitExceeded` past `max_bytes`, before reading when its size says so."""
        refuse_pseudo_path(path, "read")
        with self._root_fd() as root_fd:
            try:
                fd = openat2(root_fd, path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                raise _file_error(path, exc, "read") from exc
            try:
                refuse_pseudo(fd, path, "read")
            except SandboxFileError:
                os.close(fd)
                raise
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                if stat.S_ISDIR(st.st_mode):
                    raise SandboxFileError(f"{path!r} is a directory: use download() for trees")
                raise SandboxFileError(f"{path!r} is not a regular file")
            with open(fd, "rb", closefd=True) as f:
                if st.st_size > max_bytes:
                    raise too_large(path, st.st_size, max_bytes)
                return read_capped(f, max_bytes, path)

    def upload(self, local: Path, path: str) -> None:
        """Copy a host file or tree to `path`; modes and symlinks kept, directories merged."""
        if not local.exists() and not local.is_symlink():
            raise SandboxFileError(f"no such host path to upload: {local}")
        if not _parts(path):
            raise SandboxFileError("a file path inside the sandbox must not be '/'")
        refuse_pseudo_path(path, "upload to")
        with self._root_fd() as root_fd:
            try:
                self._upload(root_fd, local, path)
            except OSError as exc:
                raise _file_error(path, exc, "upload to") from exc

    def _upload(self, root_fd: int, local: Path, path: str) -> None:
        st = local.lstat()
        if stat.S_ISLNK(st.st_mode):
            self._symlink(root_fd, path, os.readlink(local))
        elif stat.S_ISREG(st.st_mode):
            self._write(root_fd, path, local.read_bytes(), stat.S_IMODE(st.st_mode))
        elif stat.S_ISDIR(st.st_mode):
            parts = _parts(path)
            self._makedirs(root_fd, parts)
            for child in sorted(local.iterdir()):
                self._upload(root_fd, child, posixpath.join(path, child.name))
            fd = openat2(root_fd, "/".join(parts), os.O_RDONLY | os.O_DIRECTORY)
            try:
                refuse_pseudo(fd, path, "upload to")
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
            finally:
                os.close(fd)
        # sockets, FIFOs and devices are skipped, like `docker cp`

    def download(self, path: str, local: Path, max_bytes: int = DOWNLOAD_LIMIT) -> None:
        """Copy the file or tree at `path` to host `local` (replaced if it exists), streamed,
        by `hostcopy.HostTree`'s rules: links that would reach outside `local`, devices and
        FIFOs are dropped; `ReadLimitExceeded` past `max_bytes` of content."""
        refuse_pseudo_path(path, "download")
        with self._root_fd() as root_fd:
            try:
                fd = openat2(root_fd, path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                raise _file_error(path, exc, "download") from exc
            try:
                refuse_pseudo(fd, path, "download")
                tree = HostTree(local, path, max_bytes)
            except BaseException:
                os.close(fd)
                raise
            try:
                add_fd(tree, fd, "")
                tree.commit()
            except OSError as exc:
                raise _file_error(path, exc, "download") from exc
            finally:
                os.close(fd)
                tree.close()
