"""The command lines that start a local sandbox's processes under bubblewrap.

Two kinds of process, both run by host-side wrappers that put themselves in the sandbox's
cgroup (`SandboxCgroup.enter_script`) before they exec anything:

* the *init* (`init_argv`): `bwrap --unshare-{pid,net,ipc,uts,cgroup} --as-pid-1` over the
  overlay root, running `ttl_init_script`. As PID 1 of its pid namespace nothing inside can
  signal it, it reaps orphans, and when it exits the kernel kills the whole namespace. A
  host-side shell outside the cgroup waits for it: when the TTL loop ends normally (exit 0,
  not killed by `close`/`restore`/gc), it runs the reaper (`reaper_argv`) that unmounts and
  deletes the sandbox, so an expired sandbox leaves nothing behind even with no driver.
* a *shell session* (`shell_argv`): `nsenter` into the init's net, ipc, uts and cgroup
  namespaces, then `bwrap --pidns <init's>` binds the same root, mounts its own /proc and
  /dev, drops capabilities to `SHELL_CAPS` + SETPCAP (before any binary of the sandbox runs),
  and the sandbox's `setpriv` cuts the bounding set to `SHELL_CAPS` and drops SETPCAP before
  it execs bash as a member of the init's pid namespace. The bwrap monitor stays outside it, where
  `kill -9 -1` from inside cannot reach it; bash is its only child (`shell_depth=1`).

No user namespace: uid 0 inside is uid 0 with only `SHELL_CAPS` and `no_new_privs` (the
docker model); a one-uid user namespace would break `chown`, `useradd` and apt.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from envs.rock.cgroups import SandboxCgroup
from envs.rock.errors import SandboxError
from envs.rock.overlay import Layout
from envs.rock.pid1 import ttl_init_script
from envs.rock.pipe_transport import PipeTransport
from envs.rock.proctree import descendants, signal_pids
from envs.rock.shell import SHELL_ARGV

#: The same set as `docker_backend.SHELL_CAPS` (a test checks they stay equal).
SHELL_CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "NET_BIND_SERVICE",
]
#: Run first in a shell's bwrap (which adds CAP_SETPCAP for it): the sandbox's `setpriv` cuts
#: the bounding set to `SHELL_CAPS` (bwrap run as root leaves it full) and drops SETPCAP, so
#: the shell ends with exactly `SHELL_CAPS` in every set, like docker's `--cap-drop ALL`.
BOUNDING_PREFIX = [
    "setpriv",
    "--bounding-set=-all," + ",".join(f"+{c.lower()}" for c in SHELL_CAPS),
    "--inh-caps=-setpcap",
    "--ambient-caps=-setpcap",
    "--",
]
#: A fresh /proc with /proc/sys read-only (bwrap leaves it writable when run as root, and
#: uid 0 may write most global sysctls without any capability), and a minimal /dev. The
#: sysctl tree shows the reader's namespaces whichever proc instance it is bound from.
PROC_AND_DEV = ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
#: Namespace fds the session wrapper opens (pid, net, ipc, uts, cgroup of the init).
REPO = Path(__file__).resolve().parents[2]
_NS_FDS = {"pid": 3, "net": 4, "ipc": 5, "uts": 6, "cgroup": 7}
_SECCOMP_FD = 8  # the filter program, read (and closed) by bwrap


def setenv(env: dict[str, str]) -> list[str]:
    return [x for k, v in env.items() for x in ("--setenv", k, v)]


def reaper_argv(layout: Layout) -> list[str]:
    """The host command that removes an expired sandbox (`local_state.reap`)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from envs.rock.local_state import reap; reap(sys.argv[2])"
    )
    return [sys.executable, "-c", code, str(REPO), str(layout.dir)]


def init_argv(
    layout: Layout,
    cgroup: SandboxCgroup,
    env: dict[str, str],
    isolate_net: bool,
    ttl_s: float,
    keep_fd: int,
) -> list[str]:
    """sh (waits, reaps at TTL) -> sh (joins the cgroup) -> bwrap -> bash, the TTL loop as PID 1.

    The outer shell stays outside the cgroup, so killing the cgroup never kills the reaper;
    it only reaps when the init exited 0 (its TTL ended), never after a kill.
    """
    net = ["--unshare-net"] if isolate_net else []
    reap = " ".join(shlex.quote(a) for a in reaper_argv(layout))
    enter = f'{cgroup.enter_script()} && exec "$@"'
    return [
        "sh",
        "-c",
        f'sh -c {shlex.quote(enter)} ale-init "$@"; [ $? -eq 0 ] && exec {reap} >/dev/null 2>&1',
        "ale-ttl",
        "bwrap",
        "--bind",
        str(layout.merged),
        "/",
        *PROC_AND_DEV,
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup",
        *net,
        "--as-pid-1",
        "--new-session",
        "--hostname",
        layout.sid,
        "--cap-drop",
        "ALL",
        "--clearenv",
        *setenv(env),
        "--chdir",
        "/",
        "--",
        "bash",
        "--norc",
        "--noprofile",
        "-c",
        ttl_init_script(ttl_s, keep_fd),
    ]


def shell_argv(
    layout: Layout,
    cgroup: SandboxCgroup,
    init_pid: int,
    init_start: str,
    env: dict[str, str],
    user_prefix: list[str],
    mounts: list[str] | tuple[str, ...] = (),
    seccomp: Path | None = None,
) -> list[str]:
    """sh (checks the init, joins the cgroup) -> nsenter -> bwrap -> bash, one pid each.

    The init's namespaces are opened first and the init's start time checked after, so a
    recycled pid can never lead a shell into another process's namespaces. The namespace
    fds are closed inside before the shell starts. `mounts` are extra bwrap mount arguments
    applied after /proc, /sys and /dev (a path policy's hidden pseudo files). `seccomp` is a
    BPF program file (`envs.rock.seccomp`) bwrap installs before bash starts.
    """
    opens = " ".join(f"{fd}</proc/{init_pid}/ns/{ns}" for ns, fd in _NS_FDS.items())
    script = (
        f"exec {opens} || exit 97; "
        f'[ "$(cut -d" " -f22 /proc/{init_pid}/stat)" = {init_start} ] || '
        "{ echo 'the sandbox init is gone' >&2; exit 97; }; "
        f'{cgroup.enter_script()} && exec "$@"'
    )
    if seccomp is not None:
        script = f"exec {_SECCOMP_FD}<{shlex.quote(str(seccomp))} || exit 97; " + script
    joins = [f"--{ns}=/proc/self/fd/{fd}" for ns, fd in _NS_FDS.items() if ns != "pid"]
    caps = [x for cap in (*SHELL_CAPS, "SETPCAP") for x in ("--cap-add", f"CAP_{cap}")]
    closes = " ".join(f"{fd}<&-" for fd in _NS_FDS.values())
    return [
        "sh",
        "-c",
        script,
        "ale-shell",
        "nsenter",
        *joins,
        "--",
        "bwrap",
        "--pidns",
        str(_NS_FDS["pid"]),
        "--bind",
        str(layout.merged),
        "/",
        "--ro-bind",
        str(layout.sysfs),
        "/sys",
        *PROC_AND_DEV,
        *mounts,
        *(["--seccomp", str(_SECCOMP_FD)] if seccomp is not None else []),
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        *caps,
        "--clearenv",
        *setenv(env),
        "--chdir",
        "/",
        "--",
        "bash",
        "--norc",
        "--noprofile",
        "-c",
        f'exec {closes} && exec "$@"',
        "ale-shell",
        *BOUNDING_PREFIX,
        *user_prefix,
        *SHELL_ARGV,
    ]


def user_prefix(user: str, passwd: list[str]) -> tuple[list[str], str]:
    """(argv prefix that switches to `user`, its home), from the sandbox's passwd lines.

    `user` is a name or uid, optionally `:group`; the switch is the sandbox's own `setpriv`
    (util-linux), run after capabilities were dropped.
    """
    if user in ("root", "0", "0:0", ""):
        return [], "/root"
    name, _, group = user.partition(":")
    rows = [row for row in (line.split(":") for line in passwd) if len(row) >= 7]
    entry = next(
        (row for row in rows if name in (row[0], row[2] if name.isdigit() else None)), None
    )
    if entry is None and not name.isdigit():
        raise SandboxError(f"user {name!r} is not in the sandbox's /etc/passwd")
    uid = entry[2] if entry else name
    gid = group or (entry[3] if entry else "0")
    groups = "--init-groups" if entry and not group else "--clear-groups"
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", groups, "--"], entry[5] if entry else "/"


class SessionTransport(PipeTransport):
    """`PipeTransport` to a session's bash, which lives in the sandbox's pid namespace.

    `close` kills the shell and its descendants first and lets bwrap's monitor (outside the
    namespace) reap it before the monitor goes, so no zombie of the namespace is left to the
    host's init (which may reap slowly, and would keep the namespace alive meanwhile).
    """

    def close(self) -> None:
        if not self._closed and self.proc.poll() is None:
            signal_pids(list(reversed(descendants(self.proc.pid))), signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1.0)
        super().close()
