"""A stand-in for a USB serial adapter and its cable: a pty the harness opens by its device path.

A bench board's UART reaches the lab host through an adapter whose device (/dev/ttyUSB0) stays
while the board is switched off. Here the device is a real pty (/dev/pts/N, opened by the harness
with pyserial like any serial port) and the board is a QEMU whose serial chardev connects to a
unix socket when it is powered on. Bytes cross in both directions while a board is connected;
while none is, what the harness writes is lost, as on a cable to an unpowered board. Bounded: a
slow reader on the pty loses bytes beyond BUFFER_LIMIT rather than growing memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import threading
import tty
from pathlib import Path

CHUNK = 4096
BUFFER_LIMIT = 1 << 20
STOP_TIMEOUT_S = 5.0


class SerialAdapterStandIn:
    """`device_path` is what a profile or lab config names; `board_socket` is where QEMU connects."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: a UART carries bytes
        os.set_blocking(self._master, False)
        self.device_path = os.ttyname(self._slave)
        self.board_socket = directory / "board-uart.sock"
        self.board_socket.unlink(missing_ok=True)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.board_socket))
        self._listener.listen(1)
        self._listener.setblocking(False)
        self._board: socket.socket | None = None
        self._to_pty = bytearray()
        self._stop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._relay, name="serial-adapter-stand-in", daemon=True)
        self._thread.start()

    def _drop_board(self, selector: selectors.BaseSelector) -> None:
        if self._board is not None:
            selector.unregister(self._board)
            self._board.close()
            self._board = None

    def _relay(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._master, selectors.EVENT_READ, "pty")
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.01 if self._to_pty else 0.2):
                if key.data == "accept":
                    with contextlib.suppress(BlockingIOError):
                        connection, _ = self._listener.accept()
                        self._drop_board(selector)  # a new power-on replaces a dead connection
                        connection.setblocking(False)
                        self._board = connection
                        self.connections += 1
                        selector.register(connection, selectors.EVENT_READ, "board")
                elif key.data == "pty":
                    try:
                        data = os.read(self._master, CHUNK)
                    except BlockingIOError:
                        continue
                    except OSError as error:  # EIO: nobody has the device open just now
                        if error.errno != errno.EIO:
                            raise
                        continue
                    if self._board is not None:
                        with contextlib.suppress(OSError):
                            self._board.sendall(data)
                elif key.data == "board":
                    try:
                        data = self._board.recv(CHUNK) if self._board else b""
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:  # the board was switched off
                        self._drop_board(selector)
                        continue
                    if len(self._to_pty) < BUFFER_LIMIT:
                        self._to_pty += data
            while self._to_pty:
                try:
                    written = os.write(self._master, bytes(self._to_pty[:CHUNK]))
                except BlockingIOError:
                    break
                del self._to_pty[:written]
        self._drop_board(selector)
        selector.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(STOP_TIMEOUT_S)
        self._listener.close()
        self.board_socket.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> SerialAdapterStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
