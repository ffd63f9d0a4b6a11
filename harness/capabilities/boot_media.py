"""BootMedia: writing the image a board boots next (for tests that tamper with the device's own
boot images): a flash programmer, an SD-card mux, a TFTP root the board loads from."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class BootMedia(Protocol):
    NAME = "boot media writer"
    CONFIG = "lab config: boot_media (a write command with {image})"

    description: str

    def write(self, image: Path) -> None:
        """Write `image` where the board boots it from (the board is off); HarnessSetupError on failure."""
        ...
