"""Host-side process-tree signalling through /proc (Linux only)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all threads), from /proc/PID/task/*/children."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return kids


def descendants(pid: int) -> list[int]:
    """Every descendant of `pid`, parents before children."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        nxt: list[int] = []
        for p in frontier:
            for c in children(p):
                if c not in found:
                    found.append(c)
                    nxt.append(c)
        frontier = nxt
    return found


def signal_pids(pids: list[int], sig: int) -> None:
    """Send `sig` to each pid, ignoring those that already exited."""
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            continue


def interrupt_shell(shell_pid: int, hard: bool) -> None:
    """Stop what an interactive shell is running, keeping the shell.

    Descendants get SIGINT (SIGKILL when `hard`); the shell gets SIGINT, which makes an
    interactive bash abandon the current command line.
    """
    signal_pids(descendants(shell_pid), signal.SIGKILL if hard else signal.SIGINT)
    signal_pids([shell_pid], signal.SIGINT)
