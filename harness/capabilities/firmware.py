"""FirmwareFiles: the device's firmware as files the harness can read (image, initrd, kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class FirmwareFiles(Protocol):
    NAME = "firmware image"
    CONFIG = "profile: firmware_image (the image the maker ships)"

    description: str

    @property
    def image(self) -> Path | None:
        """The image to scan for secrets (what ships on the device)."""
        ...

    @property
    def initrd(self) -> Path | None:
        """The device's initramfs, when it boots one (for boot-chain tests around it)."""
        ...
