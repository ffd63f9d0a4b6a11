"""Faults a bench line and a board throw at the harness, on the stand-in board behind the
USB-UART stand-in (tests/support): bursts of line noise, a kernel message flood while it logs in,
the adapter dropping off USB and coming back under a new name, a board that reboots in a loop,
and noise that never stops. Each ends in a shell, or in one DeviceError that names the fault
(the test's INCONCLUSIVE reason) within its bound; no fault crashes the harness or puts raw
bytes in a message. A killed QEMU, a silent console and a hung board on the real reference
image are in tests/test_device_loss.py and tests/test_bench_path.py.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.board_standin import PASSWORD, StandInBoard, StandInPower

from harness.device.strategy import DeviceState, Strategy
from harness.drivers.serial_console import SerialConsolePort
from harness.errors import DeviceDisconnected, DeviceError
from harness.transports.console import LoginSettings

BOOT_TIMEOUT_S = 4.0
pytestmark = pytest.mark.usefixtures("quick_strategy")
LOGIN_TIMEOUT_S = 5.0
GIVE_UP_BOUND_S = 90.0  # the strategy's moves, each bounded: it gives up well within this


def _strategy(boards: list, state: str, *, console_path: str | None = None, power: bool = True, **kw):
    board = StandInBoard(state, **kw)
    boards.append(board)
    strategy = Strategy(
        name="stand-in",
        console_port=SerialConsolePort(console_path or board.uart.lab_path, 115200),  # the real serial driver
        power=StandInPower(board) if power else None,
        login=LoginSettings(username="root", password=PASSWORD, login_prompt=r"login: ?$"),
        bootloader_prompt=r"=> ?$",
        boot_command="boot",
        secrets=[PASSWORD],
        boot_timeout=BOOT_TIMEOUT_S,
        login_timeout=LOGIN_TIMEOUT_S,
        command_timeout=5.0,
        lockout_s=2.0,
    )
    return strategy, board


class CountingSerialPort(SerialConsolePort):
    """The real serial driver, noting which device node each open reached."""

    def __init__(self, url: str) -> None:
        super().__init__(url, 115200)
        self.reached: list[str] = []

    def open(self):
        self.reached.append(os.path.realpath(self.url))
        return super().open()


class Emitter:
    """A thread putting bytes on the line from the board's side until stopped or `seconds` pass."""

    def __init__(
        self, board: StandInBoard, make: Callable[[], bytes], every_s: float, seconds: float
    ) -> None:
        self._stop = threading.Event()
        self.sent = 0

        def run() -> None:
            ends = time.monotonic() + seconds
            while not self._stop.is_set() and time.monotonic() < ends:
                data = make()
                board.emit(data)
                self.sent += len(data)
                self._stop.wait(every_s)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _garbage(rng: random.Random, size: int = 48) -> bytes:
    """Line noise: any byte, NULs, escape sequences cut off, invalid UTF-8."""
    return bytes(rng.randrange(256) for _ in range(size)) + b"\x1b[" + b"\xff\xfe\x00"


def _printable(message: str) -> bool:
    return all(ch.isprintable() or ch in "\n\t" for ch in message)


def test_bursts_of_line_noise_do_not_stop_the_login(boards: list) -> None:
    strategy, board = _strategy(boards, "login")
    rng = random.Random(1)
    noise = Emitter(board, lambda: _garbage(rng), every_s=1.2, seconds=8)  # bursts for 8 s, then a quiet line
    try:
        strategy.to_shell()
    finally:
        noise.stop()
    assert strategy.state is DeviceState.SHELL and board.logins[-1] == ("root", True)
    assert noise.sent > 0


def test_a_kernel_message_flood_while_logging_in(boards: list) -> None:
    strategy, board = _strategy(boards, "login")
    count = iter(range(10**9))

    def kernel_lines() -> bytes:  # printk interleaves with getty: mid-prompt, many per second
        return b"".join(
            f"\r\n[ {next(count) / 1000:11.6f}] eth0: link is not ready\r\n".encode() for _ in range(20)
        )

    flood = Emitter(board, kernel_lines, every_s=0.01, seconds=3.0)  # about 2000 lines a second for 3 s
    started = time.monotonic()
    try:
        strategy.to_shell()
    finally:
        flood.stop()
    assert strategy.state is DeviceState.SHELL and board.logins[-1] == ("root", True)
    assert flood.sent > 100_000 and time.monotonic() - started < GIVE_UP_BOUND_S


def test_the_adapter_comes_back_under_a_new_name_behind_its_by_id_link(boards: list, tmp_path: Path) -> None:
    """Labs name adapters by /dev/serial/by-id/..., which udev re-points when the USB device comes back."""
    link = tmp_path / "usb-hilsec_stand-in_USB-UART-if00-port0"
    board = StandInBoard("login")
    boards.append(board)
    link.symlink_to(board.uart.lab_path)
    strategy, _ = _strategy(boards, "off", console_path=str(link))
    port = CountingSerialPort(str(link))
    strategy.console_port, strategy.power = port, StandInPower(board)
    strategy.to_shell()
    old = board.uart.lab_path
    board.power_off()
    new = board.uart.reenumerate()
    link.unlink()
    link.symlink_to(new)  # what udev does
    board.power_on()
    with pytest.raises(DeviceDisconnected):  # the test using the board then: INCONCLUSIVE, lost
        strategy.to_shell().run("true", timeout=3)
    strategy.forget()  # what the plugin does after a lost device
    strategy.to_shell()  # the old node is gone: the strategy reopens the link, which reaches the new one
    assert new != old and strategy.state is DeviceState.SHELL
    assert port.reached[0] == old and port.reached[-1] == new, port.reached
    assert board.logins[-1] == ("root", True)


def test_a_board_that_reboots_in_a_loop_is_given_up_naming_it(boards: list) -> None:
    strategy, board = _strategy(boards, "booting", reboot_loop=True, boot_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(DeviceError) as raised:
        strategy.to_shell()
    took = time.monotonic() - started
    message = str(raised.value)
    assert took < GIVE_UP_BOUND_S, took
    assert board.boots >= 3 and _printable(message)
    assert "prompt" in message or "boot" in message, message


def test_noise_that_never_stops_is_given_up_with_a_clean_message(boards: list) -> None:
    strategy, board = _strategy(boards, "login")
    rng = random.Random(2)
    noise = Emitter(board, lambda: _garbage(rng, 16), every_s=0.05, seconds=GIVE_UP_BOUND_S + 30)
    started = time.monotonic()
    try:
        with pytest.raises(DeviceError) as raised:
            strategy.to_shell()
    finally:
        noise.stop()
    assert time.monotonic() - started < GIVE_UP_BOUND_S
    assert _printable(str(raised.value)), repr(str(raised.value))
