"""Kernel pseudo filesystems are never read or written from the host on a sandbox's behalf.

Host-side file operations (`inroot.SandboxRoot`: the local backend, and docker's direct route
through `/proc/<pid>/root`) run with the driver's privileges. On `/proc`, `/sys` and the like
what a file says, and what writing it does, depends on who opens it: `/proc/kallsyms` shows
real kernel addresses to the host's root and zeros inside the sandbox. So after every open
(which `openat2` resolves inside the sandbox's root, links included) the file's filesystem is
checked with `fstatfs`, and an operation on a pseudo filesystem is refused with a message
that says to run a command inside the sandbox, where it has the sandbox's privileges. Paths
under `/proc`, `/sys` and `/dev` are refused before anything is opened (`refuse_pseudo_path`). The
docker archive API reads the container's own filesystem, without its `/proc` or `/sys`
mounts, so it needs no check. Devices (`/dev`) are refused as non-regular files already.
"""

from __future__ import annotations

import ctypes
import os
import posixpath

from envs.rock.errors import SandboxFileError

#: `f_type` of filesystems whose files are the kernel's, not the sandbox's (linux/magic.h).
PSEUDO_FS: dict[int, str] = {
    0x9FA0: "proc",
    0x62656572: "sysfs",
    0x64626720: "debugfs",
    0x74726163: "tracefs",
    0x73636673: "securityfs",
    0x27E0EB: "cgroup",
    0x63677270: "cgroup2",
    0xCAFE4A11: "bpf",
    0x62656570: "configfs",
    0x1CD1: "devpts",
    0x6165676C: "pstore",
    0xDE5E81E4: "efivarfs",
    0xF97CFF8C: "selinuxfs",
    0x65735543: "fusectl",
    0x42494E4D: "binfmt_misc",
    0x19800202: "mqueue",
    0x57AC6E9D: "nsfs",
}
#: Top-level directories of a sandbox that are pseudo filesystems (or devices) inside it.
PSEUDO_DIRS = ("proc", "sys", "dev")
_libc = ctypes.CDLL(None, use_errno=True)


def fs_type(fd: int) -> int:
    """`f_type` of the filesystem holding the open file `fd` (`fstatfs(2)`)."""
    buf = ctypes.create_string_buffer(256)  # struct statfs: f_type is its first word
    if _libc.fstatfs(ctypes.c_int(fd), buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(ctypes.c_long.from_buffer(buf).value) & 0xFFFFFFFF


def pseudo_fs(fd: int) -> str | None:
    """The name of the pseudo filesystem `fd` is on, None for an ordinary one."""
    return PSEUDO_FS.get(fs_type(fd))


def _refusal(path: str, doing: str, name: str) -> SandboxFileError:
    return SandboxFileError(
        f"cannot {doing} {path!r} from the host: it is on {name}, a kernel pseudo filesystem "
        f"inside the sandbox, where the host's privileges would apply; run a command inside "
        f"the sandbox instead (e.g. sb.run('cat {path}'))"
    )


def refuse_pseudo_path(path: str, doing: str) -> None:
    """Refuse `path` if it names something under the sandbox's `/proc`, `/sys` or `/dev`
    (mounted inside the sandbox; the host's view of its root does not show them as the
    sandbox sees them)."""
    top = posixpath.normpath("/" + path.lstrip("/")).split("/")[1]
    if top in PSEUDO_DIRS:
        raise _refusal(path, doing, f"/{top}")


def refuse_pseudo(fd: int, path: str, doing: str) -> None:
    """Raise `SandboxFileError` if `fd` (opened for `path`) is on a pseudo filesystem."""
    name = pseudo_fs(fd)
    if name is not None:
        raise _refusal(path, doing, name)
