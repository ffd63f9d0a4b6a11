"""Waiting until a deadline: the one poll loop, and the one countdown, the harness uses.

Hand-written `deadline = time.monotonic() + t; while time.monotonic() < deadline: ...` loops each
decided differently whether the condition was looked at once more at the deadline and whether the
last sleep could overshoot it. `wait_until` looks at once, after each pause, and once at the
deadline; no pause runs past it. A blocking read that loops (a socket, a serial line, a condition
variable) takes its timeout from a `Deadline`, which never hands out a negative one. Deadlines
order by time, so a window inside a budget is `min(budget, Deadline.after(window_s))`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Deadline:
    """A point in monotonic time, for loops of blocking reads that share one timeout."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + max(0.0, seconds))

    def remaining(self) -> float:
        """Seconds left, never below 0 (a socket timeout of 0 polls; a negative one is an error)."""
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at


def wait_until(condition: Callable[[], T], timeout_s: float, poll_s: float) -> T:
    """`condition()` until it returns something true or `timeout_s` has passed; its last value.

    An exception from `condition` (a process that died while it was awaited) ends the wait.
    """
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        value = condition()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return value
        time.sleep(min(poll_s, remaining))
