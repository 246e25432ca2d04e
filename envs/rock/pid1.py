"""PID 1 of every sandbox: a builtin-only bash loop that nothing inside can end or starve.

The kernel delivers a signal sent from inside a pid namespace to its init only if the init
handles it; SIGKILL and SIGSTOP from inside are always dropped. bash, though, installs
handlers for terminating signals (`read -t` and traps make it do so), so a plain loop dies
of `kill 1` (TERM, HUP, INT, USR1, ALRM, ...). The init therefore ignores every catchable
signal first (`trap ''` sets SIG_IGN), except SIGCHLD, whose handler is how bash reaps the
orphans re-parented to it. It never forks: `read -t` waits on a descriptor nobody writes
(bash times it out with `select`, not SIGALRM), so a fork bomb holding every pid of the
sandbox cannot starve it either. After `ttl_s` seconds it exits, which ends the sandbox.
"""

from __future__ import annotations

import signal

#: Signals the init ignores: every one but SIGKILL/SIGSTOP (not catchable) and SIGCHLD.
IGNORED_SIGNALS: tuple[int, ...] = tuple(
    n
    for n in range(1, signal.SIGRTMAX + 1)
    if n not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)
    and not (signal.SIGSYS < n < signal.SIGRTMIN)  # 32, 33: glibc's own, bash refuses them
)


def ttl_init_script(ttl_s: float, fd: int = 0) -> str:
    """The bash program of a sandbox's PID 1: ignore signals, wait `ttl_s` s, exit 0.

    `fd` is a descriptor whose reads block (docker: the container's open stdin; local: a
    pipe whose write end the init itself holds), so `read -t 5` always times out.
    """
    trap = "trap '' " + " ".join(str(n) for n in IGNORED_SIGNALS)
    return (
        f"{trap}; while [ $SECONDS -lt {max(int(ttl_s), 0)} ]; do "
        f"read -r -t 5 -u {fd} _ || [ $? -gt 128 ] || sleep 5; done; exit 0"
    )
