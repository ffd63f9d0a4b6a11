"""Telnet consoles: a TCP socket whose IAC negotiation is answered and stripped.

`telnetlib` is deprecated (removed in Python 3.13), so the few commands a console needs are
handled here: the server may echo and suppress go-ahead; we report a 200-column window (so the
device does not wrap long command lines at 80) and refuse every other option.
"""

from __future__ import annotations

import struct

from harness.transports.socket import SocketStream
from harness.util.deadlines import Deadline

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, NAWS = 1, 3, 31

# What we let the server do, and what we offer to do ourselves.
_SERVER_MAY = {ECHO, SGA}
_WE_WILL = {SGA, NAWS}


class TelnetStream(SocketStream):
    """A ByteStream over telnet; `read` returns only the data bytes."""

    def __init__(
        self,
        host: str,
        port: int = 23,
        *,
        connect_timeout: float = 10.0,
        timeout: float | None = None,
        columns: int = 200,
        rows: int = 50,
    ) -> None:
        super().__init__(host, port, connect_timeout=timeout or connect_timeout)
        self.description = f"telnet {host}:{port}"
        self.columns = columns
        self.rows = rows
        self._state = "data"  # data | iac | option | sb | sb_iac
        self._command = 0
        self._subnegotiation = bytearray()
        self._server_enabled: set[int] = set()
        self._we_enabled: set[int] = set()
        self.negotiation_log: list[tuple[str, int]] = []  # what the server asked, for diagnostics

    def read(self, size: int, timeout: float) -> bytes:
        """Data bytes only; loops while a chunk held nothing but negotiation."""
        deadline = Deadline.after(timeout)
        while True:
            raw = super().read(size, deadline.remaining())
            if not raw:
                return b""
            data = self._parse(raw)
            if data or deadline.expired:
                return data

    def write(self, data: bytes) -> None:
        super().write(data.replace(bytes([IAC]), bytes([IAC, IAC])))

    def _send_command(self, *parts: int) -> None:
        super().write(bytes([IAC, *parts]))

    def _parse(self, raw: bytes) -> bytes:
        data = bytearray()
        for byte in raw:
            if self._state == "data":
                if byte == IAC:
                    self._state = "iac"
                else:
                    data.append(byte)
            elif self._state == "iac":
                if byte == IAC:
                    data.append(IAC)
                    self._state = "data"
                elif byte in (DO, DONT, WILL, WONT):
                    self._command = byte
                    self._state = "option"
                elif byte == SB:
                    self._subnegotiation.clear()
                    self._state = "sb"
                else:  # NOP, GA, DM, BRK, ...: nothing to answer
                    self._state = "data"
            elif self._state == "option":
                self._negotiate(self._command, byte)
                self._state = "data"
            elif self._state == "sb":
                if byte == IAC:
                    self._state = "sb_iac"
                else:
                    self._subnegotiation.append(byte)
            elif self._state == "sb_iac":
                if byte == SE:
                    self._state = "data"  # no subnegotiation we accept needs an answer
                else:
                    self._subnegotiation.append(byte)
                    self._state = "sb"
        return bytes(data)

    def _negotiate(self, command: int, option: int) -> None:
        """Answer only state changes, as RFC 854 requires, so negotiation cannot loop."""
        name = {DO: "DO", DONT: "DONT", WILL: "WILL", WONT: "WONT"}[command]
        self.negotiation_log.append((name, option))
        if command == WILL:
            if option in _SERVER_MAY:
                if option not in self._server_enabled:
                    self._server_enabled.add(option)
                    self._send_command(DO, option)
            else:
                self._send_command(DONT, option)
        elif command == WONT:
            if option in self._server_enabled:
                self._server_enabled.discard(option)
                self._send_command(DONT, option)
        elif command == DO:
            if option in _WE_WILL:
                if option not in self._we_enabled:
                    self._we_enabled.add(option)
                    self._send_command(WILL, option)
                if option == NAWS:
                    self._send_window_size()
            else:
                self._send_command(WONT, option)
        elif command == DONT:
            if option in self._we_enabled:
                self._we_enabled.discard(option)
                self._send_command(WONT, option)

    def _send_window_size(self) -> None:
        size = struct.pack(">HH", self.columns, self.rows).replace(bytes([IAC]), bytes([IAC, IAC]))
        SocketStream.write(self, bytes([IAC, SB, NAWS]) + size + bytes([IAC, SE]))
