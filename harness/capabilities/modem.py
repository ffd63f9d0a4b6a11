"""AtPort: the AT-command port of the device's cellular module."""

from __future__ import annotations

from typing import Protocol

from harness.transports.stream import ByteStream


class AtPort(Protocol):
    NAME = "modem AT port"
    CONFIG = "profile: cellular.modem (serial: {url | port} or at_command)"

    description: str

    def open(self) -> ByteStream:
        """A stream that carries AT commands and their answers."""
        ...
