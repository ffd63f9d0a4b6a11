"""ConsolePort: a way to open a byte stream to the device's console (serial, telnet, SSH, QEMU)."""

from __future__ import annotations

from typing import Protocol

from harness.transports.stream import ByteStream


class ConsolePort(Protocol):
    NAME = "console"
    CONFIG = "profile: console (serial, telnet, ssh or qemu)"

    description: str

    def open(self) -> ByteStream:
        """A new stream to the console; DeviceError when it cannot be opened (board off, unplugged)."""
        ...

    @property
    def follows_power(self) -> bool:
        """True when the console goes away with the device's power (QEMU's serial, SSH), so it is
        reopened after every power-on; False for a port that stays (a USB-UART, a terminal server)."""
        ...
