"""Waiting for a condition until a deadline: the one poll loop the harness uses.

Hand-written `deadline = time.monotonic() + t; while time.monotonic() < deadline: ...` loops each
decided differently whether the condition was looked at once more at the deadline and whether the
last sleep could overshoot it. `wait_until` looks at once, after each pause, and once at the
deadline; no pause runs past it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


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
