"""A console on a serial port: a plain device path (/dev/ttyUSB0, /dev/serial/by-id/...) or a
pyserial URL (rfc2217://, socket://). The port stays when the board is switched off."""

from __future__ import annotations

from harness.capabilities import ConsolePort
from harness.device.registry import BuildContext, provides
from harness.errors import ConfigError
from harness.transports.serial import SerialStream
from harness.transports.stream import ByteStream

DEFAULT_BAUDRATE = 115200


def resolve_serial(attachment, lab, field: str) -> tuple[str, int]:
    """(url, baudrate) of a profile's serial attachment: its own url, or a named lab port."""
    if attachment.url is not None:
        return str(attachment.url), int(attachment.baudrate or DEFAULT_BAUDRATE)
    port = lab.serial_ports.get(attachment.port)
    if port is None:
        known = ", ".join(sorted(lab.serial_ports)) or "none"
        raise ConfigError(
            "lab config",
            f"serial_ports.{attachment.port}",
            f"the profile's {field}.port names a serial port the lab config does not list (it lists: {known})",
            f"a serial_ports entry named {attachment.port!r}",
        )
    return str(port.url), int(attachment.baudrate or port.baudrate)


class SerialConsolePort(ConsolePort):
    def __init__(self, url: str, baudrate: int) -> None:
        self.url, self.baudrate = url, baudrate
        self.description = f"serial {url} @{baudrate}"

    @property
    def follows_power(self) -> bool:
        return False

    def open(self) -> ByteStream:
        return SerialStream(self.url, self.baudrate)


@provides(ConsolePort)
def _serial(ctx: BuildContext) -> SerialConsolePort | None:
    serial = ctx.profile.console.serial
    if serial is None:
        return None
    return SerialConsolePort(*resolve_serial(serial, ctx.lab, "console.serial"))
