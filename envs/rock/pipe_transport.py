"""`ShellTransport` over a host subprocess's pipes (the local backend's shells)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from collections.abc import Sequence

from envs.rock.proctree import descendants, interrupt_shell, signal_pids

_CHUNK = 1 << 16


class PipeTransport:
    """Runs `argv` (which must end by exec'ing the shell) with stdin/stdout pipes.

    `shell_pid` is the host pid whose descendants `interrupt` signals; by default the
    process itself. Wrappers such as bubblewrap put the shell one or two levels down:
    pass `shell_depth` to pick the first descendant at that depth.
    """

    def __init__(
        self, argv: Sequence[str], env: dict[str, str] | None = None, shell_depth: int = 0
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self._shell_depth = shell_depth
        self._fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self._closed = False

    def _shell_pid(self) -> int:
        pid = self.proc.pid
        for _ in range(self._shell_depth):
            kids = descendants(pid)
            if not kids:
                break
            pid = kids[0]
        return pid

    def send(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise EOFError("shell stdin closed") from exc

    def recv(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self._fd], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        data = os.read(self._fd, _CHUNK)
        if not data:
            raise EOFError("shell exited")
        return data

    def interrupt(self, hard: bool) -> None:
        interrupt_shell(self._shell_pid(), hard)

    def exit_status(self) -> int | None:
        try:
            return self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        signal_pids([*reversed(descendants(self.proc.pid)), self.proc.pid], signal.SIGKILL)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self.proc.wait(timeout=10)
