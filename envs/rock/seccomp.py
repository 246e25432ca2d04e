"""A syscall filter for the local backend, in the spirit of Docker's default seccomp profile.

Built here as classic BPF (no libseccomp needed) and handed to bubblewrap (`--seccomp FD`),
which installs it, with `no_new_privs`, on every shell session before bash starts, so every
process the agent runs inherits it. It returns EPERM for syscalls a sandbox never needs and
that reach kernel state shared with the host:

* the kernel keyrings (`add_key`, `request_key`, `keyctl`: uid 0 inside shares root's
  keyring with the host when there is no user namespace), `bpf`, `perf_event_open`,
  `userfaultfd`, io_uring, `kexec_*`, modules, `reboot`, swap, `acct`, clock setting, `syslog`,
  quotas, `open_by_handle_at`, `iopl`/`ioperm`, obsolete ones;
* the mount family (`mount`, `umount2`, `pivot_root`, the new mount API);
* new namespaces: `setns`, and `unshare`/`clone` with any `CLONE_NEW*` flag (a new user
  namespace would hand the agent a full set of capabilities over it); `clone3`, whose flags
  live in memory a filter cannot read, answers ENOSYS so that libc falls back to `clone`.

Syscalls of another ABI (i386 `int 0x80` or x32 on x86_64) answer ENOSYS: the numbers above
are only right for the native one. `ptrace` and `process_vm_*` stay allowed, as in Docker: the
sandbox's pid namespace already keeps every process outside it out of reach.

Supported: x86_64 and aarch64 (`program()` returns None elsewhere and the backend warns).
"""

from __future__ import annotations

import errno
import platform
import struct
import warnings
from pathlib import Path

from envs.rock.overlay import Layout

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: The denied syscalls' numbers per architecture (asm/unistd_64.h, asm-generic/unistd.h).
DENIED: dict[str, dict[str, int]] = {
    "x86_64": {
        "add_key": 248, "request_key": 249, "keyctl": 250, "bpf": 321, "perf_event_open": 298,
        "kexec_load": 246, "kexec_file_load": 320, "mount": 165, "umount2": 166,
        "pivot_root": 155, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "setns": 308, "init_module": 175,
        "finit_module": 313, "delete_module": 176, "acct": 163, "swapon": 167, "swapoff": 168,
        "reboot": 169, "syslog": 103, "settimeofday": 164, "clock_settime": 227,
        "clock_adjtime": 305, "iopl": 172, "ioperm": 173, "userfaultfd": 323,
        "open_by_handle_at": 304, "quotactl": 179, "quotactl_fd": 443, "lookup_dcookie": 212,
        "vhangup": 153, "uselib": 134, "_sysctl": 156, "sysfs": 139, "nfsservctl": 180,
        "create_module": 174, "get_kernel_syms": 177, "query_module": 178,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    },
    "aarch64": {
        "add_key": 217, "request_key": 218, "keyctl": 219, "bpf": 280, "perf_event_open": 241,
        "kexec_load": 104, "kexec_file_load": 294, "mount": 40, "umount2": 39,
        "pivot_root": 41, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "setns": 268, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "acct": 89, "swapon": 224, "swapoff": 225,
        "reboot": 142, "syslog": 116, "settimeofday": 170, "clock_settime": 112,
        "clock_adjtime": 266, "userfaultfd": 282, "open_by_handle_at": 265, "quotactl": 60,
        "quotactl_fd": 443, "lookup_dcookie": 18, "vhangup": 58, "nfsservctl": 42,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    },
}  # fmt: skip
#: Syscalls whose first argument is a `CLONE_*` flag word: denied with any `CLONE_NEW*` flag.
NAMESPACE_FLAGGED = {
    "x86_64": {"unshare": 272, "clone": 56},
    "aarch64": {"unshare": 97, "clone": 220},
}
CLONE3 = {"x86_64": 435, "aarch64": 435}
CLONE_NEW_MASK = 0x7E020080  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
X32_BIT = 0x40000000

# classic BPF (linux/filter.h, linux/seccomp.h)
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LO = 0, 4, 16  # struct seccomp_data, little-endian


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program(arch: str | None = None) -> bytes | None:
    """The filter as an array of `struct sock_filter` for `arch` (default: this machine's);
    None where there is no table for it."""
    arch = arch or platform.machine()
    if arch not in DENIED:
        return None
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    out = [
        _insn(_LD_W_ABS, _OFF_ARCH),
        _insn(_JEQ_K, AUDIT_ARCH[arch], jt=1, jf=0),
        _insn(_RET_K, enosys),  # another ABI: its numbers mean other syscalls
        _insn(_LD_W_ABS, _OFF_NR),
    ]
    if arch == "x86_64":
        out += [_insn(_JGE_K, X32_BIT, jt=0, jf=1), _insn(_RET_K, enosys)]
    for nr in sorted(DENIED[arch].values()):
        out += [_insn(_JEQ_K, nr, jt=0, jf=1), _insn(_RET_K, eperm)]
    out += [_insn(_JEQ_K, CLONE3[arch], jt=0, jf=1), _insn(_RET_K, enosys)]
    for nr in sorted(NAMESPACE_FLAGGED[arch].values()):
        out += [
            _insn(_JEQ_K, nr, jt=0, jf=4),
            _insn(_LD_W_ABS, _OFF_ARG0_LO),
            _insn(_JSET_K, CLONE_NEW_MASK, jt=0, jf=1),
            _insn(_RET_K, eperm),
            _insn(_RET_K, _ALLOW),
        ]
    out.append(_insn(_RET_K, _ALLOW))
    return b"".join(out)


def syscall_filter(layout: Layout) -> Path | None:
    """This machine's filter as a file in the sandbox's state directory (for `bwrap
    --seccomp`), written once; None (with a `RuntimeWarning`) where it is unsupported."""
    prog = program()
    if prog is None:
        warnings.warn(
            f"no syscall filter for {platform.machine()}: local sandboxes run without seccomp "
            "(use backend='docker', whose engine applies its default profile)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    path = layout.dir / "seccomp.bpf"
    if not path.exists() or path.read_bytes() != prog:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(prog)
        tmp.rename(path)
    return path
