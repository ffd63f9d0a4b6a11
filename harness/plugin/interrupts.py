"""SIGTERM ends a run the way Ctrl-C does, so a cancelled CI job still writes its report.

pytest turns SIGINT into KeyboardInterrupt: fixtures tear down (QEMU stops, devices are released)
and pytest_sessionfinish writes the report of what finished, the rest INCONCLUSIVE "not run". A
CI runner cancelling a job sends SIGTERM instead, whose default action kills the process with no
report at all. The handler raises KeyboardInterrupt once; a second SIGTERM kills outright. A
handler someone else installed (a wrapper, labgrid) is left alone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType


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
