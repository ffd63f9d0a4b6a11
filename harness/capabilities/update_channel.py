"""UpdateChannel: how a package reaches the device's update agent (console, HTTP upload, a URL to fetch).

A lab gets from the maker a signed package and the way the device takes it. The channel hands one
package over and says what the device answered; judging what the device then did (the version it
reports, its logs) is the suite's job, so every channel is judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class HandOver:
    """What the device answered to one delivery: `accepted` is its own word (exit status 0, HTTP 2xx)."""

    accepted: bool
    status: int | None  # the command's exit status or the HTTP status code; None: no answer
    output: str
    url: str = ""  # where the package was published for the device, when it fetches it


class UpdateChannel(Protocol):
    NAME = "update channel"
    CONFIG = "profile: updates.delivery (console_command, http_upload or http_fetch)"

    description: str

    def deliver(self, filename: str, data: bytes, timeout: float) -> HandOver:
        """Hand the package over; DeviceError when the device cannot be reached at all."""
        ...
