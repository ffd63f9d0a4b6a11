"""What a watch of a console from power-on saw (harness.probes.bootloader makes it, harness.checks.bootloader judges it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# How the watch ended: a bootloader prompt that stayed, the bootloader handing over to the OS,
# the console closing, or the end of the window with neither.
WatchEnd = Literal["prompt", "handover", "closed", "window"]


@dataclass
class BootloaderWatch:
    """The console from power-on, with keys pressed to stop autoboot: how it ended and a timeline."""

    window_s: float
    ended_by: WatchEnd
    reached: str | None = None  # the prompt that stayed, or the handover seen (a pattern's name)
    countdown: str | None = None  # the first autoboot countdown text, as the console printed it
    keys_sent: int = 0
    printed: bool = False  # anything but whitespace arrived on the console
    closed_because: str = ""  # the first line of why the console closed (ended_by "closed")
    events: list[str] = field(default_factory=list)  # "seconds since the watch began  event"
    tail: str = ""  # the last console text, bounded
