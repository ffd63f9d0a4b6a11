"""The byte stream every console rides on, and `open_stream` to pick one from a URL.

Each transport only moves bytes, with a timeout on every read; prompts, logins and commands live
in harness.transports.console, so one Console works on a serial port, a socket, telnet or a local program.
"""

from __future__ import annotations

import os
import stat
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from harness.transports.process import ProcessStream
from harness.transports.serial import SerialStream
from harness.transports.socket import SocketStream, UnixSocketStream
from harness.transports.telnet import TelnetStream

__all__ = [
    "ByteStream",
    "ProcessStream",
    "SerialStream",
    "SocketStream",
    "TelnetStream",
    "UnixSocketStream",
    "open_stream",
]


@runtime_checkable
class ByteStream(Protocol):
    description: str  # "serial /dev/ttyUSB0 @115200", "qemu serial ..."

    def read(self, size: int, timeout: float) -> bytes:
        """At most `size` bytes; b"" on timeout; DeviceDisconnected on EOF."""
        ...

    def write(self, data: bytes) -> None:
        """All of `data`; DeviceDisconnected if the stream is closed."""
        ...

    def close(self) -> None: ...


def _host_port(url: str, default_port: int | None) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port or default_port
    if not parts.hostname or port is None:
        raise ValueError(f"{url!r}: expected {parts.scheme}://HOST:PORT")
    return parts.hostname, port


def open_stream(url: str, *, baudrate: int = 115200, connect_timeout: float = 10.0) -> ByteStream:
    """Open the stream a console URL names.

    `unix:///path` (or the path of an existing unix socket), `telnet://host[:port]`,
    `tcp://host:port`; anything else goes to pyserial (`/dev/ttyUSB0`, `rfc2217://h:p`,
    `socket://h:p`, `loop://`).
    """
    scheme = urlsplit(url).scheme
    if scheme == "unix":
        path = url[len("unix://") :]
        if not path:
            raise ValueError(f"{url!r}: expected unix:///path/to/socket")
        return UnixSocketStream(path, connect_timeout=connect_timeout)
    if scheme == "telnet":
        host, port = _host_port(url, 23)
        return TelnetStream(host, port, connect_timeout=connect_timeout)
    if scheme == "tcp":
        host, port = _host_port(url, None)
        return SocketStream(host, port, connect_timeout=connect_timeout)
    if not scheme and os.path.exists(url) and stat.S_ISSOCK(os.stat(url).st_mode):
        return UnixSocketStream(url, connect_timeout=connect_timeout)
    return SerialStream(url, baudrate)
