"""Stopping a bench run on SIGINT / SIGTERM: the switch the harness and its tasks check.

    switch = StopSwitch()
    with switch.handling():              # a signal here raises Interrupted at once
        ...                              # load the suite, the policy (nothing to clean up)
        with switch.arming():            # a signal here trips the switch
            run_bench(..., stop=switch)  # raises Interrupted once it has cleaned up

Outside `arming` (no sandbox of the run exists) a signal raises `Interrupted` where the
program is, as SIGINT raises `KeyboardInterrupt`. Inside, first signal: the run hands out no
more attempts, removes its sandboxes (by the run's label), which ends the episodes and
gradings running in them, and waits a bounded time for them. An attempt that ends after the
switch tripped is dropped (`Cancelled`), never recorded as a verdict (it may have failed
*because* its sandbox was removed), so the same command runs it again; attempts recorded
before stay as they are. Second signal: stop waiting, remove what is left once, exit. Third:
exit at once. The exit code is 128 + the first signal's number: 130 for SIGINT, 143 for
SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: The signals `StopSwitch.handling` turns into a graceful stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancelled(Exception):
    """An attempt cut short because its run is stopping: dropped, never recorded."""


class Interrupted(BaseException):
    """The run stopped on a signal, after its cleanup (a `BaseException`, as `KeyboardInterrupt`:
    no `except Exception` swallows it). `running`: attempts that had not ended when the harness
    stopped waiting for them (their sandboxes were removed; their threads may still run)."""

    def __init__(self, signum: int, running: int = 0) -> None:
        super().__init__(f"stopped by {signal_name(signum)}")
        self.signum = signum
        self.running = running

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a command a signal ended."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSwitch:
    """Set by the first signal (`stopping`), the second (`hurrying`); the third exits the
    process at once with 128 + the first signal's number. Thread-safe to read anywhere."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._armed = threading.Event()
        self.signum: int | None = None
        self.count = 0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def hurrying(self) -> bool:
        return self._hurry.is_set()

    @property
    def armed(self) -> bool:
        return self._armed.is_set()

    @contextlib.contextmanager
    def arming(self) -> Iterator[StopSwitch]:
        """Inside: a signal trips the switch (the run cleans up); outside: it raises."""
        self._armed.set()
        try:
            yield self
        finally:
            self._armed.clear()

    def trip(self, signum: int) -> None:
        """What one more signal does (also callable directly, e.g. by a test or a caller that
        has its own reason to stop the run)."""
        self.count += 1
        if self.signum is None:
            self.signum = signum
        if self.count >= 3:
            os.write(2, b"ale: third signal: exiting now (the same command removes what is left)\n")
            os._exit(128 + self.signum)
        self._stop.set()
        if self.count == 2:
            self._hurry.set()

    def check(self) -> None:
        """Raise `Cancelled` once the run is stopping (before a sandbox starts, a grading...)."""
        if self.stopping:
            raise Cancelled(f"the run is stopping ({signal_name(self.signum or 0)})")

    def interrupted(self, running: int = 0) -> Interrupted:
        """The exception to end the run with (SIGINT's if tripped without a signal number)."""
        return Interrupted(self.signum or signal.SIGINT, running)

    @contextlib.contextmanager
    def handling(self, signums: tuple[int, ...] = STOP_SIGNALS) -> Iterator[StopSwitch]:
        """Handle `signums` inside the block (`trip` while `armed`, else raise `Interrupted`),
        the previous handlers restored after. Only the main thread can set handlers: elsewhere the block runs without them (the
        switch still works when tripped by hand)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in signums}
        for s in signums:
            signal.signal(s, self._on_signal)
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.armed and not self.stopping:  # nothing of the run to clean up: stop here
            self.signum = self.signum or signum
            raise self.interrupted()
        self.trip(signum)
