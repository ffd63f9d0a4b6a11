"""The strategy brings a device to a login prompt and a shell from each state a bench leaves it in.

Fast, on a stand-in board (tests/support/board_standin.py) behind the USB-UART stand-in; the same
states on the real reference image through the bench path are in tests/test_bench_path.py.
"""

from __future__ import annotations

import time

import pytest
from support.board_standin import PASSWORD, StandInBoard, StandInConsolePort, StandInPower

from harness.device.strategy import DeviceState, Strategy
from harness.errors import DeviceError
from harness.transports.console import LoginSettings

BOOT_TIMEOUT_S = 4.0
pytestmark = pytest.mark.usefixtures("quick_strategy")


def _strategy(boards: list, state: str, *, power: bool = False, lockout_s: float = 5.0, **kw) -> tuple:
    board = StandInBoard(state, **kw)
    boards.append(board)
    switch = StandInPower(board) if power else None
    strategy = Strategy(
        name="stand-in",
        console_port=StandInConsolePort(board),
        power=switch,
        login=LoginSettings(username="root", password=PASSWORD, login_prompt=r"login: ?$"),
        bootloader_prompt=r"=> ?$",
        boot_command="boot",
        secrets=[PASSWORD],
        boot_timeout=BOOT_TIMEOUT_S,
        login_timeout=5.0,
        command_timeout=5.0,
        lockout_s=lockout_s,
    )
    return strategy, board, switch


def test_from_a_login_prompt(boards: list) -> None:
    strategy, board, _ = _strategy(boards, "login")
    strategy.to_shell()
    assert strategy.state is DeviceState.SHELL and board.logins == [("root", True)]
    assert strategy.recoveries == [] and board.boots == 0


def test_from_an_open_shell(boards: list) -> None:
    strategy, board, _ = _strategy(boards, "shell")
    strategy.to_login()
    assert board.state == "login" and strategy.state is DeviceState.LOGIN
    strategy.to_shell()
    assert board.logins == [("root", True)] and board.boots == 0


def test_a_shell_just_logged_into_is_left_without_probing_it_again(boards: list) -> None:
    """The lab's login ended at a settled shell prompt: logging out types `exit` straight away.
    Once the console printed anything since, the strategy looks first (a newline) as before."""
    strategy, board, _ = _strategy(boards, "login")
    strategy.to_shell()
    strategy.to_login()
    assert board.shell_lines == ["exit"] and strategy.state is DeviceState.LOGIN
    strategy.to_shell()
    board.emit(b"\r\nudhcpc: lease of 10.0.2.15 obtained\r\n# ")
    time.sleep(0.3)
    strategy.to_login()
    assert board.shell_lines == ["exit", "", "exit"] and board.state == "login"


def test_from_a_bootloader_prompt(boards: list) -> None:
    strategy, board, _ = _strategy(boards, "bootloader")
    strategy.to_shell()
    assert board.boots == 1 and strategy.state is DeviceState.SHELL
    assert any("bootloader prompt" in r.what and "'boot'" in r.what for r in strategy.recoveries)


def test_from_a_board_that_is_booting(boards: list) -> None:
    strategy, board, _ = _strategy(boards, "booting", boot_seconds=2.5)
    strategy.to_shell()  # 2.5 s of boot messages, longer than a look: waited for, not given up on
    assert board.boots == 1 and strategy.recoveries == []


def test_silence_with_power_is_a_power_cycle(boards: list) -> None:
    strategy, board, switch = _strategy(boards, "silent", power=True)
    strategy.to_shell()
    assert switch.switched == ["off", "on"] and board.boots == 1
    assert any("power-cycled" in r.what for r in strategy.recoveries)


def test_silence_without_power_names_the_missing_key_once_per_silence(boards: list) -> None:
    strategy, board, _ = _strategy(boards, "off")
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"lab config: power"):
        strategy.to_login()
    first = time.monotonic() - started
    assert first >= BOOT_TIMEOUT_S  # a quiet board may be booting: it got the boot timeout
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"lab config: power"):
        strategy.to_login()  # the next test: no second boot wait for the same silence
    assert time.monotonic() - started < first / 2
    board.power_on()  # somebody switched it on by hand: the strategy finds it again
    strategy.to_shell()
    assert strategy.state is DeviceState.SHELL


def test_a_lockout_is_waited_out_and_reported(boards: list) -> None:
    strategy, board, _ = _strategy(boards, "login", lockout_after=3, lockout_seconds=2.0, lockout_s=5.0)
    console = strategy.to_login()
    for attempt in range(3):
        assert console.try_login("root", f"wrong-{attempt}", strategy.login_settings, timeout=5) is False
    strategy.state = DeviceState.LOGIN
    strategy.to_shell()  # refused at first (locked), accepted once the lockout ran out
    assert [ok for _, ok in board.logins[-2:]] == [False, True]
    assert any("worked again" in r.what for r in strategy.recoveries), strategy.recoveries


def test_a_lockout_that_outlasts_the_wait_is_power_cycled(boards: list) -> None:
    strategy, board, switch = _strategy(
        boards, "login", power=True, lockout_after=1, lockout_seconds=600.0, lockout_s=1.0
    )
    console = strategy.to_login()
    assert console.try_login("root", "wrong", strategy.login_settings, timeout=5) is False
    strategy.state = DeviceState.LOGIN
    strategy.to_shell()  # locked for 10 min, the wait is 1 s: the power cycle clears it
    assert switch.switched == ["off", "on"] and board.logins[-1] == ("root", True)
    assert any("until a power cycle" in r.what for r in strategy.recoveries), strategy.recoveries


# --- the device's life (harness.device.life): where observation windows may start ---------------


def test_a_device_found_up_starts_its_life_at_the_first_prompt_and_keeps_it(boards: list) -> None:
    strategy, _, _ = _strategy(boards, "login")
    before = time.time()
    strategy.to_shell()
    up = strategy.life.up_since
    assert up is not None and up >= before
    strategy.to_login()
    strategy.to_shell()  # logging out and in again is the same life
    assert strategy.life.up_since == up and strategy.life.since == up


def test_a_boot_starts_a_new_life_at_the_login_prompt_after_it(boards: list) -> None:
    strategy, _, _ = _strategy(boards, "booting", boot_seconds=2.5)
    started = time.time()
    strategy.to_shell()
    assert strategy.life.up_since is not None and strategy.life.up_since >= started + 2.0


def test_a_power_cycle_ends_the_life_and_a_disturbance_moves_its_start(boards: list) -> None:
    strategy, _, _ = _strategy(boards, "login", power=True)
    strategy.to_shell()
    first = strategy.life.up_since
    strategy.power_off()
    assert strategy.life.since is None  # off: no life to observe
    cycled = time.time()
    strategy.power_cycle("a test")
    assert first is not None and strategy.life.up_since is not None and strategy.life.up_since >= cycled
    strategy.life.disturbed("network link cut", until=cycled + 100.0)
    assert strategy.life.since == cycled + 100.0
