"""Consoles carried by a stream socket: TCP (ser2net, QEMU `-serial tcp:`) and unix sockets.

A peer that closes the connection is a lost device (DeviceDisconnected), not a silent one.
"""

from __future__ import annotations

import select
import socket

from harness.errors import DeviceDisconnected, DeviceError


class SocketStream:
    """A ByteStream over a connected stream socket."""

    def __init__(
        self, host: str, port: int, *, connect_timeout: float = 10.0, timeout: float | None = None
    ) -> None:
        """`timeout` is an alias of `connect_timeout` (reads take their own timeout)."""
        description = f"tcp {host}:{port}"
        try:
            sock = socket.create_connection((host, port), timeout=timeout or connect_timeout)
        except OSError as error:
            raise DeviceError(f"cannot connect to {description}: {error}") from error
        self._adopt(sock, description)

    @classmethod
    def from_socket(cls, sock: socket.socket, description: str) -> SocketStream:
        """Wrap an already connected socket (a socketpair in tests, an accepted connection)."""
        stream = cls.__new__(cls)
        stream._adopt(sock, description)
        return stream

    def _adopt(self, sock: socket.socket, description: str) -> None:
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._closed = False
        self.description = description

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self, size: int, timeout: float) -> bytes:
        """Up to `size` bytes as soon as any arrive; b"" after `timeout` seconds of silence."""
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        try:
            ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
            if not ready:
                return b""
            data = self._sock.recv(size)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise DeviceDisconnected(f"{self.description}: {error}") from error
        if not data:
            raise DeviceDisconnected(f"{self.description}: connection closed by the peer")
        return data

    def write(self, data: bytes) -> None:
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        view = memoryview(data)
        try:
            while view:
                _, ready, _ = select.select([], [self._sock], [], 10.0)
                if not ready:
                    raise DeviceDisconnected(f"{self.description}: peer stopped reading for 10 s")
                try:
                    sent = self._sock.send(view)
                except BlockingIOError:
                    continue
                view = view[sent:]
        except OSError as error:
            raise DeviceDisconnected(f"{self.description}: {error}") from error

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._sock.close()
            except OSError:
                pass


class UnixSocketStream(SocketStream):
    """A ByteStream over a unix stream socket (QEMU `-chardev socket,path=...`)."""

    def __init__(self, path: str, *, connect_timeout: float = 10.0) -> None:
        description = f"unix {path}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(path)
        except OSError as error:
            sock.close()
            raise DeviceError(f"cannot connect to {description}: {error}") from error
        self._adopt(sock, description)
