"""A stand-in board for the strategy's unit tests: a console state machine on a pty, and its power.

Real boards (the reference image on the bench twin, SYSLINUX from a disk) are in the integration
tests; this stand-in makes each state (off, silent, booting, bootloader prompt, login, shell,
locked out) reachable in a second, so every transition of harness.device.strategy is tested on
every run. It speaks like busybox getty/login and U-Boot: a login prompt, a password prompt,
"Login incorrect", a `# ` prompt, a `=> ` prompt, and boot messages while booting.
"""

from __future__ import annotations

import os
import threading
import time

from harness.capabilities import ConsolePort, Power
from harness.transports.serial import SerialStream
from harness.transports.stream import ByteStream
from support.bench_twin import UsbUartStandIn

PASSWORD = "Stand-in-pw-3"


class StandInBoard:
    """The board side of a USB-UART stand-in, answering like a small Linux board would."""

    def __init__(self, state: str = "login", *, boot_seconds: float = 1.0, lockout_after: int = 0,
                 lockout_seconds: float = 0.0, reboot_loop: bool = False) -> None:  # fmt: skip
        self.uart = UsbUartStandIn()
        self.fd = os.open(self.uart.board_path, os.O_RDWR | os.O_NOCTTY)
        os.set_blocking(self.fd, False)
        self.state = state
        self.boot_seconds = boot_seconds
        self.lockout_after, self.lockout_seconds = lockout_after, lockout_seconds
        self.reboot_loop = reboot_loop  # every boot panics and starts again: a boot loop
        self.failures = 0
        self.locked_until = 0.0
        self.boots = 0
        self.logins: list[tuple[str, bool]] = []
        self.shell_lines: list[str] = []  # every line typed at the shell prompt (an empty one probes it)
        self._user = ""
        self._line = b""
        self._boot_ends = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if state == "booting":
            self.power_on()  # before the board runs: its login banner comes when this boot ends
        self._thread.start()

    # --- what the test controls --------------------------------------------------------------

    def power_on(self) -> None:
        with self._lock:
            self.locked_until, self.failures = 0.0, 0  # a lockout kept in RAM ends with the power
            self.boots += 1
            self.state = "booting"
            self._boot_ends = time.monotonic() + self.boot_seconds

    def power_off(self) -> None:
        with self._lock:
            self.state = "off"

    def emit(self, data: bytes) -> None:
        """Bytes on the line from the board's side (noise, a flood), whatever its state."""
        with self._lock:
            try:
                os.write(self.fd, data)
            except BlockingIOError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.fd)
        self.uart.close()

    # --- the board ---------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        try:
            os.write(self.fd, text.encode())
        except BlockingIOError:
            pass

    def _run(self) -> None:
        next_message = 0.0
        while not self._stop.is_set():
            with self._lock:
                if self.state == "booting":
                    now = time.monotonic()
                    if now >= self._boot_ends and self.reboot_loop:
                        self.boots += 1
                        self._boot_ends = now + self.boot_seconds
                        self._say(
                            "Kernel panic - not syncing: VFS: Unable to mount root fs\r\nRebooting in 0 seconds..\r\n"
                        )
                    elif now >= self._boot_ends:
                        self.state = "login"
                        self._say("\r\nstand-in board\r\nboard login: ")
                    elif now >= next_message:
                        self._say(f"[ {now % 100:8.6f}] booting, please wait\r\n")
                        next_message = now + 0.2
            try:
                data = os.read(self.fd, 1024)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            for byte in data:
                if byte in (10, 13):
                    line, self._line = self._line.decode(errors="replace"), b""
                    with self._lock:
                        self._answer(line)
                else:
                    self._line += bytes([byte])

    def _answer(self, line: str) -> None:
        state = self.state
        if state in ("off", "silent", "booting"):
            return
        if state == "bootloader":
            if line.strip() == "boot":
                self.boots += 1
                self.state = "booting"
                self._boot_ends = time.monotonic() + self.boot_seconds
            else:
                self._say("\r\n=> ")
        elif state == "login":
            if line.strip():
                self._user = line.strip()
                self.state = "password"
                self._say("\r\nPassword: ")
            else:
                self._say("\r\nboard login: ")
        elif state == "password":
            self._check(line)
        elif state == "shell":
            self.shell_lines.append(line.strip())
            if line.strip() == "exit":
                self.state = "login"
                self._say("\r\nlogout\r\n\r\nstand-in board\r\nboard login: ")
            else:
                self._say("\r\n# ")

    def _check(self, password: str) -> None:
        locked = time.monotonic() < self.locked_until
        right = self._user == "root" and password == PASSWORD and not locked
        self.logins.append((self._user, right))
        if right:
            self.state = "shell"
            self._say("\r\n# ")
            return
        if not locked:
            self.failures += 1
            if self.lockout_after and self.failures >= self.lockout_after:
                self.locked_until, self.failures = time.monotonic() + self.lockout_seconds, 0
        self.state = "login"
        self._say("\r\nLogin incorrect\r\nboard login: ")


class StandInConsolePort(ConsolePort):
    """The lab side of the stand-in's USB-UART: a plain device path, as on a bench."""

    def __init__(self, board: StandInBoard) -> None:
        self.board = board
        self.description = f"stand-in serial {board.uart.lab_path}"

    @property
    def follows_power(self) -> bool:
        return False

    def open(self) -> ByteStream:
        return SerialStream(self.board.uart.lab_path)


class StandInPower(Power):
    """The stand-in board's power switch (what a PDU outlet would be)."""

    def __init__(self, board: StandInBoard) -> None:
        self.board = board
        self.description = "stand-in power switch"
        self.switched: list[str] = []

    def on(self) -> None:
        self.switched.append("on")
        self.board.power_on()

    def off(self) -> None:
        self.switched.append("off")
        self.board.power_off()

    def cycle(self) -> None:
        self.off()
        self.on()

    def is_on(self) -> bool | None:
        return None  # like power by command: it can switch, not tell
