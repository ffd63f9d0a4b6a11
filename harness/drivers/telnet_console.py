"""A console behind a telnet port: a terminal server or ser2net in telnet mode."""

from __future__ import annotations

from harness.capabilities import ConsolePort
from harness.device.registry import BuildContext, provides
from harness.transports.stream import ByteStream
from harness.transports.telnet import TelnetStream


class TelnetConsolePort(ConsolePort):
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.description = f"telnet {host}:{port}"

    @property
    def follows_power(self) -> bool:
        return False  # the terminal server stays up while the board behind it is off

    def open(self) -> ByteStream:
        return TelnetStream(self.host, self.port)


@provides(ConsolePort)
def _telnet(ctx: BuildContext) -> TelnetConsolePort | None:
    telnet = ctx.profile.console.telnet
    return TelnetConsolePort(str(telnet.host), int(telnet.port)) if telnet is not None else None
