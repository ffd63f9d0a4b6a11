"""Power: switching the device on and off (QEMU, a PDU or relay by command, a labgrid place)."""

from __future__ import annotations

from typing import Protocol


class Power(Protocol):
    NAME = "power control"
    CONFIG = "lab config: power (on, off, cycle commands), or an emulated profile console.qemu"

    description: str

    def on(self) -> None:
        """Switch on (no-op when already on); HarnessSetupError when the switch fails."""
        ...

    def off(self) -> None:
        """Switch off; safe to call when already off."""
        ...

    def cycle(self) -> None:
        """Off, then on."""
        ...

    def is_on(self) -> bool | None:
        """True/False when the switch can tell, None when it cannot (most PDUs by command)."""
        ...
