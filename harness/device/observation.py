"""Observation windows served from the whole-run capture: wait only for what is still missing.

The lab captures the device's traffic for the whole run, so a test that must watch the device
for N seconds need not spend N seconds of its own: it needs the capture to cover N seconds of
the device's current, undisturbed life (`harness.device.life`: since the boot the harness last
saw or caused, and since the last network outage it made). `observe()` waits until it does,
counted back from now, and returns that window. A test late in a session finds it already there
and waits nothing; one run alone right after the boot (`-k`), or right after a power cycle, waits
the whole window as before; `-n` workers each have their own device, life and capture.

The window is the least a test judges, not the most: a test judging absence (no plaintext, no
identity) still reads its capture from the first packet to the window's end, so what the device
did at boot and in earlier lives counts too. A test waiting for a positive event (the device's
own update check) passes `event`, and the wait ends as soon as the event is in the window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.analysis.capture.pcapio import CaptureFormatError, iter_packets
from harness.capabilities import Capture
from harness.util.deadlines import wait_until

POLL_S = 1.0


@dataclass(frozen=True)
class ObservationWindow:
    """The stretch of the capture a test judges at least: `seconds` of the device's current life
    ending at `end`, unless `event` ended it early."""

    start: float  # time.time(): where the window begins
    end: float  # where it ends: when the wait did
    seconds: float  # how long it was asked to be
    since: float | None  # the capture had covered the device's current life since then (None: unknown)
    waited_s: float  # how long the test waited for it
    ended_by: str  # "covered": the whole window; "event": the event came first

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _first_packet_time(path: Path | None) -> float | None:
    """For a capture driver that does not say when its file began: its first packet's time."""
    if path is None or not path.is_file():
        return None
    try:
        for when, _linktype, _frame in iter_packets(path):
            return when
    except (CaptureFormatError, OSError):
        return None
    return None


def observed_since(device: Any) -> float | None:
    """Since when the capture covers the device's current, undisturbed life (None: it does not,
    or nothing says since when: the window then starts now)."""
    capture = device.get(Capture)
    life = device.life.since
    if capture is None or life is None:
        return None
    started = getattr(capture, "started", None)
    if started is None:
        started = _first_packet_time(capture.current)
    return None if started is None else max(started, life)


def observe(
    device: Any,
    seconds: float,
    *,
    not_before: float | None = None,
    event: Callable[[float], object] | None = None,
    poll_s: float = POLL_S,
) -> ObservationWindow:
    """Wait until the capture covers `seconds` of the device's current life (after `not_before`,
    a boundary of the test's own such as the last check it triggered), or until `event(start)`
    is true; the window is the latest one that fits, so a life already long enough costs no wait.
    `event` is asked with the window's start and must look only at what came after it."""
    began, waited_from = time.time(), time.monotonic()
    since = observed_since(device)
    start = max(since if since is not None else began, not_before or 0.0, began - seconds)
    end_at = start + seconds

    def done() -> bool:
        return bool(event is not None and event(start))

    fired = wait_until(done, end_at - time.time(), poll_s)
    if not fired and time.time() < end_at:  # the monotonic deadline may come a hair before the wall clock's
        time.sleep(end_at - time.time())
    return ObservationWindow(
        start=start,
        end=time.time(),
        seconds=seconds,
        since=since,
        waited_s=round(time.monotonic() - waited_from, 3),
        ended_by="event" if fired else "covered",
    )
