"""SIGTERM ends a run the way Ctrl-C does, so a cancelled CI job still writes its report.

pytest turns SIGINT into KeyboardInterrupt: fixtures tear down (QEMU stops, devices are released)
and pytest_sessionfinish writes the report of what finished, the rest INCONCLUSIVE "not run". A
CI runner cancelling a job sends SIGTERM instead, whose default action kills the process with no
report at all. The handler raises KeyboardInterrupt once; a second SIGTERM kills outright. A
handler someone else installed (a wrapper, labgrid) is left alone.

Giving the devices back (a labgrid place at its coordinator) runs under `signals_held`: a CI
runner escalating (SIGINT, then SIGTERM a few seconds later) would otherwise cut the release
short and leave the place acquired until the next run on this host recovers it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM is not negotiable
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def sigterm_as_interrupt() -> Callable[[], None]:
    """Install the handler where it can be (the main thread, no other handler); undo with the result."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return lambda: None

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is _interrupt:
            signal.signal(signal.SIGTERM, previous)

    signal.signal(signal.SIGTERM, _interrupt)
    return restore


@contextmanager
def signals_held(what: str) -> Iterator[None]:
    """Hold the first SIGINT/SIGTERM that arrives inside the block until it ends, then act on it
    as its own handler would; a second one acts at once (someone insists). Outside the main thread
    (no handlers there) the block just runs. `what` is said on stderr when a signal is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in HELD_SIGNALS}
    held: list[int] = []

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)
        if len(held) > 1:  # the second: give the signals back, and let this one act now
            restore()
            signal.raise_signal(signum)
            return
        print(f"hilsec: {signal.Signals(signum).name} held until {what} is done", file=sys.stderr)

    for signum in HELD_SIGNALS:
        signal.signal(signum, hold)
    try:
        yield
    finally:
        restore()
        if len(held) == 1:
            signal.raise_signal(held[0])
