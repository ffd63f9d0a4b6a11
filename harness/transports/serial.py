"""Serial consoles through pyserial: local ports (/dev/tty*) and pyserial's URL handlers.

`serial_for_url` gives one code path for a USB-UART on the bench, a port exported over the
network (rfc2217://, socket://) and the in-memory loop:// used in tests.
"""

from __future__ import annotations

import serial as pyserial

from harness.errors import DeviceDisconnected, DeviceError

# The harness uses neither hardware flow control nor modem lines, and ser2net does not acknowledge
# RFC 2217 SET_CONTROL for a port without them (a pty, some USB adapters): pyserial would then
# fail to open with "timeout while waiting for option 'control'" (labgrid passes the same option).
RFC2217_DEFAULT_OPTIONS = ("ign_set_control",)


def with_rfc2217_defaults(url: str) -> str:
    """An rfc2217:// URL with the options the harness always wants; other URLs unchanged."""
    if not url.startswith("rfc2217://"):
        return url
    base, _, query = url.partition("?")
    options = [option for option in query.split("&") if option]
    names = {option.split("=", 1)[0] for option in options}
    options += [option for option in RFC2217_DEFAULT_OPTIONS if option not in names]
    return f"{base}?{'&'.join(options)}"


class SerialStream:
    """A ByteStream over anything `serial.serial_for_url` opens."""

    def __init__(self, url: str, baudrate: int = 115200) -> None:
        self.url = url
        self.baudrate = baudrate
        self.description = f"serial {url} @{baudrate}"
        try:
            self._port = pyserial.serial_for_url(with_rfc2217_defaults(url), baudrate=baudrate, timeout=0)
        except (pyserial.SerialException, OSError, ValueError) as error:
            raise DeviceError(f"cannot open {self.description}: {error}") from error
        self._timeout: float | None = 0
        self._closed = False

    def _set_timeout(self, timeout: float) -> None:
        # Changing the timeout reconfigures a real port (tcsetattr); only do it when it changes.
        timeout = max(0.0, timeout)
        if timeout != self._timeout:
            self._port.timeout = timeout
            self._timeout = timeout

    def read(self, size: int, timeout: float) -> bytes:
        """Up to `size` bytes as soon as any arrive; b"" after `timeout` seconds of silence."""
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        try:
            self._set_timeout(timeout)
            first = self._port.read(1)
            if not first:
                return b""
            waiting = self._port.in_waiting
            rest = self._port.read(min(waiting, size - 1)) if waiting and size > 1 else b""
        except (pyserial.SerialException, OSError) as error:
            raise DeviceDisconnected(f"{self.description}: {error}") from error
        return first + rest

    def write(self, data: bytes) -> None:
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        try:
            self._port.write(data)
            self._port.flush()
        except (pyserial.SerialException, OSError) as error:
            raise DeviceDisconnected(f"{self.description}: {error}") from error

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._port.close()
            except (pyserial.SerialException, OSError):
                pass
