"""Talking to the Osmocom programs: their VTY (telnet-style command line) and CTRL (IPA-framed
GET/SET), each connection made inside the cell's network namespace and every read bounded."""

from __future__ import annotations

import re
import socket
import struct
from contextlib import nullcontext

from harness.errors import HarnessSetupError
from harness.lab.side import LabSide
from harness.util.deadlines import Deadline

OUTPUT_LIMIT = 256 * 1024
TIMEOUT_S = 5.0
_PROMPT = re.compile(rb"\r?\n?[\w.-]+(\([\w-]+\))?[>#] ?$")
IPA_CTRL = 0xEE  # IPA stream identifier: osmocom extension
IPA_OSMO_CTRL = 0x00


def _connect(namespace: str | None, port: int, timeout: float) -> socket.socket:
    side = LabSide(namespace) if namespace else None
    with side.entered() if side else nullcontext():
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except OSError as err:
            raise HarnessSetupError(f"127.0.0.1:{port} in {namespace or 'the host'}: {err}") from err


def port_open(namespace: str | None, port: int) -> bool:
    try:
        _connect(namespace, port, 0.5).close()
    except HarnessSetupError:
        return False
    return True


class Vty:
    """One VTY session (`enable`d); `run()` returns a command's output without echo and prompt."""

    def __init__(self, namespace: str | None, port: int, *, timeout: float = TIMEOUT_S) -> None:
        self.port = port
        self.timeout = timeout
        self._sock = _connect(namespace, port, timeout)
        self._read_prompt()
        self.run("enable")

    def _read_prompt(self) -> bytes:
        data = b""
        deadline = Deadline.after(self.timeout)
        while not _PROMPT.search(data):
            remaining = deadline.remaining()  # read once: a socket timeout of 0 would not block
            if remaining <= 0:
                raise HarnessSetupError(f"VTY on port {self.port}: no prompt within {self.timeout:.0f} s")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as err:
                raise HarnessSetupError(f"VTY on port {self.port}: {err}") from err
            if not chunk:
                raise HarnessSetupError(f"VTY on port {self.port} closed the connection")
            data = (data + chunk)[-OUTPUT_LIMIT:]
        return data

    def run(self, command: str) -> str:
        self._sock.sendall(command.encode() + b"\r\n")
        text = self._read_prompt().decode(errors="replace").replace("\r", "")
        lines = text.split("\n")
        if lines and lines[0].strip() == command.strip():
            lines = lines[1:]
        return "\n".join(lines[:-1]).strip()

    def configure(self, *path_and_commands: str) -> list[str]:
        """`configure terminal`, then each line (a node path and its commands); output of each."""
        outputs = [self.run("configure terminal")]
        outputs += [self.run(line) for line in path_and_commands]
        outputs.append(self.run("end"))
        problems = [o for o in outputs if o.startswith("%")]
        if problems:
            raise HarnessSetupError(f"VTY on port {self.port} refused: {problems[0]}")
        return outputs

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> Vty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def vty(namespace: str | None, port: int, *commands: str) -> list[str]:
    """Run `commands` in one VTY session; their outputs."""
    with Vty(namespace, port) as session:
        return [session.run(command) for command in commands]


class Ctrl:
    """The CTRL interface (IPA stream 0xEE, osmo extension 0x00): GET and SET by variable name."""

    def __init__(self, namespace: str | None, port: int, *, timeout: float = TIMEOUT_S) -> None:
        self.port, self.timeout = port, timeout
        self._sock = _connect(namespace, port, timeout)
        self._id = 0

    def _send(self, text: str) -> None:
        payload = bytes([IPA_OSMO_CTRL]) + text.encode()
        self._sock.sendall(struct.pack(">HB", len(payload), IPA_CTRL) + payload)

    def _receive(self) -> str:
        deadline = Deadline.after(self.timeout)
        buffer = b""
        while True:
            if len(buffer) >= 3:
                length, stream = struct.unpack(">HB", buffer[:3])
                if len(buffer) >= 3 + length:
                    frame, buffer = buffer[3 : 3 + length], buffer[3 + length :]
                    if stream == IPA_CTRL and frame[:1] == bytes([IPA_OSMO_CTRL]):
                        return frame[1:].decode(errors="replace")
                    continue  # IPA PING or another stream: not an answer
            remaining = deadline.remaining()
            if remaining <= 0:
                raise HarnessSetupError(f"CTRL on port {self.port}: no answer within {self.timeout:.0f} s")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise HarnessSetupError(f"CTRL on port {self.port} closed the connection")
            buffer = (buffer + chunk)[-OUTPUT_LIMIT:]

    def _ask(self, verb: str, variable: str, value: str | None = None) -> str:
        self._id += 1
        ident = str(self._id)
        self._send(f"{verb} {ident} {variable}" + (f" {value}" if value is not None else ""))
        while True:
            answer = self._receive()
            words = answer.split(" ", 3)
            if len(words) >= 2 and words[1] == ident:
                if words[0] == "ERROR":
                    raise HarnessSetupError(f"CTRL {verb} {variable}: {answer}")
                return words[3] if len(words) > 3 else ""

    def get(self, variable: str) -> str:
        return self._ask("GET", variable)

    def set(self, variable: str, value: str) -> str:
        return self._ask("SET", variable, value)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
