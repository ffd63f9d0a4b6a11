"""The device's current life as the harness saw it: since when it has been up, undisturbed.

Tests that watch the device's own traffic (FS38-04, SIP-01, the update schedule, resilience's
before-window) judge the whole-run capture, so they only need the device to have run long enough
in its current life: since the boot the harness last saw or caused, and since the last time the
harness disturbed it (a network outage it made). The strategy stamps boots and prompts here; a
test that cuts the network says when it gave it back. `harness.device.observation` waits on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class DeviceLife:
    """When the device last came up after a boot, and the last disturbance the harness made."""

    up_since: float | None = None  # time.time() the console first showed a prompt after the last boot
    disturbed_until: float | None = None  # time.time() the last disturbance ended
    disturbance: str = ""  # what it was, for the evidence
    # A boot began (or nothing was seen yet): the next prompt starts a life.
    booting: bool = True

    def boot_started(self) -> None:
        """Power went on (or off), or the console shows a boot: the device's current life ended."""
        self.booting = True
        self.up_since = None

    def prompt_seen(self) -> None:
        """The console shows a login prompt or a shell: the life starts now unless it already ran."""
        if self.booting or self.up_since is None:
            self.up_since = time.time()
            self.booting = False

    def disturbed(self, what: str, until: float | None = None) -> None:
        """The harness disturbed the device (cut its network) until `until` (default: now)."""
        self.disturbed_until = max(self.disturbed_until or 0.0, time.time() if until is None else until)
        self.disturbance = what

    @property
    def since(self) -> float | None:
        """Since when the device has run undisturbed in its current life; None: not up now."""
        if self.up_since is None:
            return None
        return max(self.up_since, self.disturbed_until or 0.0)
