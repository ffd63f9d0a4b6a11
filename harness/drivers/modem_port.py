"""The cellular module's AT port: a serial port (its own, or one the lab config names), or a
shell command on the device that passes one AT command to the module (`at_command`)."""

from __future__ import annotations

import shlex
import time

from harness.capabilities import AtPort
from harness.device.registry import BuildContext, provides
from harness.drivers.serial_console import resolve_serial
from harness.errors import DeviceDisconnected
from harness.transports.serial import SerialStream
from harness.transports.stream import ByteStream

ANSWER_LIMIT = 64 * 1024


class SerialAtPort(AtPort):
    def __init__(self, url: str, baudrate: int) -> None:
        self.url, self.baudrate = url, baudrate
        self.description = f"AT port serial {url} @{baudrate}"

    def open(self) -> ByteStream:
        return SerialStream(self.url, self.baudrate)


class ShellAtStream:
    """A ByteStream whose writes are AT commands run through the device's `at_command` shell
    helper; its reads are the module's answers. Lets one AT driver serve both kinds of port."""

    def __init__(self, device, command: str, timeout: float) -> None:
        self.device, self.command, self.timeout = device, command, timeout
        self.description = f"AT commands through `{command}` on the device's shell"
        self._pending = b""
        self._answers = b""
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        self._pending += data
        while b"\r" in self._pending:
            line, self._pending = self._pending.split(b"\r", 1)
            text = line.decode(errors="replace").strip()
            if text:
                result = self.device.run(f"{self.command} {shlex.quote(text)}", timeout=self.timeout)
                self._answers = (self._answers + result.output.encode() + b"\r\n")[-ANSWER_LIMIT:]

    def read(self, size: int, timeout: float) -> bytes:
        if self._closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        if not self._answers:
            time.sleep(min(timeout, 0.05))
            return b""
        chunk, self._answers = self._answers[:size], self._answers[size:]
        return chunk

    def close(self) -> None:
        self._closed = True


class ShellAtPort(AtPort):
    def __init__(self, command: str, device_ref: dict, timeout: float) -> None:
        self.command, self._device_ref, self.timeout = command, device_ref, timeout
        self.description = f"AT port through `{command}` on the device"

    def open(self) -> ByteStream:
        return ShellAtStream(self._device_ref["device"], self.command, self.timeout)


@provides(AtPort)
def _modem(ctx: BuildContext) -> AtPort | None:
    modem = ctx.profile.cellular.modem
    if modem is None:
        return None
    if modem.serial is not None:
        return SerialAtPort(*resolve_serial(modem.serial, ctx.lab, "cellular.modem.serial"))
    # The device itself is made after its drivers; the factory fills this reference in.
    return ShellAtPort(
        str(modem.at_command), ctx.shared.setdefault("device-ref", {}), float(ctx.lab.timeouts.command_s)
    )
