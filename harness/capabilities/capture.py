"""Capture: every packet the device sends or receives, for the whole run, as pcap files."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Capture(Protocol):
    NAME = "packet capture"
    CONFIG = "lab config: capture (interface: NAME, or qemu-filter-dump for an emulated device)"

    description: str

    def files(self) -> list[Path]:
        """The capture so far, oldest first (a new file may start after each power-on)."""
        ...

    @property
    def current(self) -> Path | None:
        """The file being written now."""
        ...

    @property
    def started(self) -> float | None:
        """When the current file began (time.time()): the capture covers the device from then."""
        ...
