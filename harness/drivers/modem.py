"""AT commands to a cellular module over any ByteStream (3GPP TS 27.007 / 27.005 framing).

`send()` writes one command and collects the information lines up to the final result code
(OK, ERROR, +CME ERROR, +CMS ERROR), within a timeout; echo is tolerated and dropped.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from harness.errors import DeviceError, DeviceTimeout
from harness.transports.stream import ByteStream

DEFAULT_TIMEOUT_S = 5.0
_FINAL = re.compile(r"^(OK|ERROR|NO CARRIER|\+CME ERROR: ?(.*)|\+CMS ERROR: ?(.*))$")


class AtCommandError(DeviceError):
    """The module answered ERROR / +CME ERROR / +CMS ERROR."""


@dataclass
class AtResponse:
    command: str
    lines: list[str] = field(default_factory=list)
    final: str = "OK"

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    def values(self, prefix: str) -> list[str]:
        """The text after `prefix` (e.g. '+CNMP:') on every information line that starts with it."""
        return [line[len(prefix) :].strip() for line in self.lines if line.startswith(prefix)]


class AtModem:
    """An AT command channel; one command at a time."""

    def __init__(self, stream: ByteStream, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.stream = stream
        self.timeout = timeout
        self._buffer = b""

    def send(self, command: str, timeout: float | None = None, *, check: bool = False) -> AtResponse:
        self.stream.write(command.encode() + b"\r")
        response = AtResponse(command)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            line = self._readline(deadline, command)
            if not line or line == command:
                continue
            if _FINAL.match(line):
                response.final = line
                break
            response.lines.append(line)
        if check and not response.ok:
            raise AtCommandError(f"{command}: {response.final}")
        return response

    def _readline(self, deadline: float, command: str) -> str:
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if ends:
                cut = min(ends)
                line, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
                return line.decode(errors="replace").strip()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"{command}: no final result code from the modem")
            self._buffer += self.stream.read(4096, min(remaining, 0.5))
