"""A persistent shell session over a byte stream, shared by every backend.

The backend starts `bash --norc --noprofile --noediting -i` with stdout and stderr merged and
hands us a `ShellTransport` (a byte pipe to it). Each command goes in as one line,

    eval $'<command, ANSI-C quoted>' </dev/null; printf '\\n\\x1e<nonce> %d %s\\x1e' $? "$PWD"

so `cd`, `export` and shell variables persist, the command cannot read our control stream,
and the end of its output is a marker that carries its exit code and the new working
directory. The nonce is fresh per command, so no output can fake it.

Timeouts: the transport interrupts the shell's descendants (SIGINT, then SIGKILL) and the
shell itself (SIGINT: an *interactive* bash abandons the current line, also a pure-builtin
`while :; do :; done`), then we send a probe line and read up to its marker. If nothing
answers within `HARD_RESTART_AFTER_S`, the shell is killed and restarted in the last known
working directory (`ExecResult.session_restarted`); exported variables are lost then.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Protocol

from envs.rock.api import ExecResult
from envs.rock.errors import SandboxDead

SHELL_ARGV = ["bash", "--norc", "--noprofile", "--noediting", "-i"]
TIMEOUT_EXIT_CODE = 124
HARD_RESTART_AFTER_S = 5.0
_PROBE_WAIT_S = 0.15
_SIGNAL_SETTLE_S = 0.02
_SYNC_TRIES = 4
_RECV_SLICE_S = 0.5


class ShellTransport(Protocol):
    """A byte pipe to one running shell process inside a sandbox."""

    def send(self, data: bytes) -> None:
        """Write to the shell's stdin. Raises `EOFError` if the shell is gone."""
        ...

    def recv(self, timeout: float) -> bytes:
        """Up to 64 KiB of stdout; b"" if nothing came within `timeout` seconds.

        Raises `EOFError` once the shell has exited and all output was read.
        """
        ...

    def interrupt(self, hard: bool) -> None:
        """SIGINT (or SIGKILL when `hard`) the shell's descendants, then SIGINT the shell."""
        ...

    def close(self) -> None:
        """Kill the shell and everything it started. Safe to call twice."""
        ...

    def exit_status(self) -> int | None:
        """The shell's exit status once it has exited, else None."""
        ...


def ansi_c_quote(command: str) -> str:
    """Quote `command` as a bash `$'...'` word that survives any byte but NUL.

    >>> ansi_c_quote("echo 'hi'\\n")
    "$'echo \\\\x27hi\\\\x27\\\\x0a'"
    """
    out = []
    try:  # undecodable bytes a caller got from us come back as they were
        data = command.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate: passed on as its (invalid) UTF-8 bytes
        data = command.encode("utf-8", errors="surrogatepass")
    for byte in data:
        if 0x20 <= byte < 0x7F and byte not in (0x27, 0x5C):
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


class OutputCapture:
    """Keeps the first and last `limit // 2` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        half = self.limit // 2
        room = half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * half:  # amortised trim
                del self.tail[: len(self.tail) - half]

    def result(self) -> tuple[bytes, bool]:
        """(bytes kept, truncated?). A marker line replaces what was dropped."""
        half = self.limit // 2
        tail = bytes(self.tail[-half:]) if len(self.tail) > half else bytes(self.tail)
        dropped = self.total - len(self.head) - len(tail)
        if dropped <= 0:
            return bytes(self.head) + bytes(self.tail), False
        marker = f"\n[... {dropped} bytes of output cut; {self.total} bytes in all ...]\n"
        return bytes(self.head) + marker.encode() + tail, True


class _MarkerReader:
    """Splits the shell's stdout at `\\n\\x1e<nonce> <code> <cwd>\\x1e` markers."""

    def __init__(self, transport: ShellTransport) -> None:
        self.transport = transport
        self.pending = bytearray()

    def read_until(
        self, nonce: str, sink: OutputCapture | None, deadline: float, drop: str | None = None
    ) -> tuple[int, str] | None:
        """Feed output to `sink` until the marker for `nonce`; None at `deadline`.

        Returns (exit code, cwd). Bytes after the marker stay pending for the next read. A
        marker for `drop` (an interrupted command that went on to print its own) is removed
        from the stream, never fed to `sink`.
        """
        start = f"\n\x1e{nonce} ".encode()
        dropped = f"\n\x1e{drop} ".encode() if drop else None
        keep = len(start) + 4096  # a split marker (and its cwd) fits in what we hold back
        while True:
            if dropped is not None:
                di = self.pending.find(dropped)
                de = self.pending.find(b"\x1e", di + len(dropped)) if di >= 0 else -1
                if de >= 0:
                    del self.pending[di : de + 1]
                    continue
            idx = self.pending.find(start)
            if idx >= 0:
                end = self.pending.find(b"\x1e", idx + len(start))
                if end >= 0:
                    if sink is not None:
                        sink.add(bytes(self.pending[:idx]))
                    fields = self.pending[idx + len(start) : end].decode("utf-8", "replace")
                    del self.pending[: end + 1]
                    code, _, cwd = fields.partition(" ")
                    return int(code), cwd
            elif len(self.pending) > keep and (dropped is None or dropped not in self.pending):
                cut = len(self.pending) - len(start)
                if sink is not None:
                    sink.add(bytes(self.pending[:cut]))
                del self.pending[:cut]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self.pending += self.transport.recv(min(remaining, _RECV_SLICE_S))
            except EOFError:
                if sink is not None:  # what the shell wrote before it went away
                    sink.add(bytes(self.pending))
                self.pending.clear()
                raise


class ShellSession:
    """One persistent bash session. Not thread-safe: one command at a time."""

    def __init__(
        self,
        connect: Callable[[], ShellTransport],
        workdir: str,
        output_limit: int,
        describe: Callable[[], str] = lambda: "the sandbox",
    ) -> None:
        """`connect` starts a fresh shell; `describe` names the sandbox in error messages."""
        self._connect = connect
        self._describe = describe
        self.cwd = workdir
        self.output_limit = output_limit
        self._transport: ShellTransport | None = None
        self._reader: _MarkerReader | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def _start(self) -> _MarkerReader:
        transport = self._connect()
        reader = _MarkerReader(transport)
        nonce = secrets.token_hex(8)
        init = (
            "PS1= PS2= PS4= PROMPT_COMMAND=; set +H +o history; exec 2>&1; "
            f"cd {ansi_c_quote(self.cwd)} 2>/dev/null || cd /; "
            f"printf '\\n\\x1e{nonce} %d %s\\x1e' $? \"$PWD\"\n"
        )
        try:
            transport.send(init.encode())
            found = reader.read_until(nonce, None, time.monotonic() + 30.0)
        except EOFError as exc:
            said = bytes(reader.pending) + getattr(transport, "stderr_tail", b"")
            status = transport.exit_status()
            transport.close()
            raise SandboxDead(
                f"the shell in {self._describe()} exited at start (status {status}); it said: "
                f"{said.decode('utf-8', 'replace')[-1500:]!r}. The image needs bash."
            ) from exc
        if found is None:
            transport.close()
            raise SandboxDead(f"the shell in {self._describe()} did not start within 30 s")
        self.cwd = found[1]
        self._transport, self._reader = transport, reader
        return reader

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._reader = None

    # -- commands ------------------------------------------------------------------------
    def run(self, command: str, timeout: float) -> ExecResult:
        """Run `command`; see the module docstring for timeout and restart semantics."""
        if "\x00" in command:  # bash would silently cut the command there
            raise ValueError(f"a command cannot contain a NUL byte (at {command.index(chr(0))})")
        started = time.monotonic()
        reader = self._reader or self._start()
        capture = OutputCapture(self.output_limit)
        nonce = secrets.token_hex(8)
        line = (
            f"eval {ansi_c_quote(command)} </dev/null; "
            f"printf '\\n\\x1e{nonce} %d %s\\x1e' $? \"$PWD\"\n"
        )
        timed_out = restarted = False
        try:
            reader.transport.send(line.encode())
            found = reader.read_until(nonce, capture, started + timeout)
            if found is None:
                timed_out = True
                found = self._interrupt(reader, capture, nonce)
        except EOFError:
            found = None
        if found is None:  # the shell died (user `exit`, kill -9 -1) or would not stop
            restarted = True
            status = None if timed_out else reader.transport.exit_status()
            self.close()
            self._start()
            code = TIMEOUT_EXIT_CODE if timed_out else (-1 if status is None else status)
            capture.add(f"\n[shell session ended; restarted in {self.cwd}]\n".encode())
        else:
            code, self.cwd = found
            if timed_out:
                code = TIMEOUT_EXIT_CODE
        raw, truncated = capture.result()
        return ExecResult(
            exit_code=code,
            raw=raw,
            truncated=truncated,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
            output_bytes=capture.total,
            session_restarted=restarted,
        )

    def _interrupt(
        self, reader: _MarkerReader, capture: OutputCapture, nonce: str
    ) -> tuple[int, str] | None:
        """Stop the running command; returns the probe's marker, or None if it won't stop.

        bash reads a pipe one byte at a time and drops the line it is reading when a SIGINT
        lands (`printf` arrives as `rintf`), so under load a probe can be lost. Every round
        signals (hard from the second round: `for` loops go on after a child's SIGKILL, so
        rounds stay short), lets the signal land, then queues the same probe (a leading
        newline ends any half-read line); the probe sent after the last signal survives. Once a probe answers, no more signals are sent and a fresh `sync`
        marker (retried, never signalled) drains whatever the other probes left, so the next
        command starts on a clean stream.
        """
        probe = secrets.token_hex(8)
        probe_line = f"\nprintf '\\n\\x1e{probe} %d %s\\x1e' $? \"$PWD\"\n".encode()
        give_up = time.monotonic() + HARD_RESTART_AFTER_S
        rounds = 0
        found: tuple[int, str] | None = None
        while found is None and time.monotonic() < give_up:
            reader.transport.interrupt(hard=rounds > 0)
            time.sleep(_SIGNAL_SETTLE_S)
            reader.transport.send(probe_line)
            rounds += 1
            found = reader.read_until(probe, capture, time.monotonic() + _PROBE_WAIT_S, nonce)
        if found is None:
            return None
        for _ in range(_SYNC_TRIES):
            sync = secrets.token_hex(8)
            reader.transport.send(f"\nprintf '\\n\\x1e{sync} 0 %s\\x1e' \"$PWD\"\n".encode())
            synced = reader.read_until(sync, None, time.monotonic() + 1.0)
            if synced is not None:
                return found[0], synced[1]
        return None
