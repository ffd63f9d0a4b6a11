"""The bootloader lockdown check (FS38-05), both directions.

Fast tests drive a scripted stand-in console (FakeBootloaderStream). The integration tests run the
real U-Boot 2023.01 from Debian's u-boot-qemu in qemu-system-aarch64: stock (bootdelay=2) must FAIL;
with an environment on the second pflash that sets bootdelay=-2 and a bootcmd that hands over to a
payload, it must PASS; bootdelay=-2 with a bootcmd that fails falls through to `=>` and must FAIL.
The payload is a one-instruction spin loop (`b .`) standing in for the OS: U-Boot's own
"## Starting application" line is the real handover it prints.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from support.uboot_board import LOCKED_ENV, UBOOT_BIN
from support.uboot_board import make_env_flash as _make_env_flash

from harness.checks.bootloader import check_bootloader_console
from harness.errors import DeviceDisconnected
from harness.results.verdicts import Verdict
from harness.transports.console import Console
from harness.transports.stream import ProcessStream

QEMU = shutil.which("qemu-system-aarch64")
MKENVIMAGE = shutil.which("mkenvimage")


class FakeBootloaderStream:
    """Stand-in for a board's serial console: a scripted bootloader, no hardware, no QEMU.

    Prints a banner and (if `countdown_s`) a U-Boot style countdown. A key during the countdown
    gives the `prompt`; otherwise, after the countdown, `handover` is printed and the stream goes
    quiet. `listens` False: keys are ignored (a locked, keyed autoboot).
    """

    description = "fake bootloader console"

    def __init__(
        self,
        *,
        countdown_s: float = 0.5,
        prompt: str = "\r\n=> ",
        handover: str = "## Starting application at 0x40200000 ...\r\n",
        listens: bool = True,
        silent: bool = False,
        banner: str = "\r\nU-Boot 2023.01 (fake)\r\n\r\nDRAM:  256 MiB\r\n",
    ) -> None:
        self.start = time.monotonic()
        self.countdown_s = countdown_s
        self.prompt = prompt
        self.listens = listens and not silent
        self.pending = b"" if silent else banner.encode()
        if countdown_s and not silent:
            self.pending += b"Hit any key to stop autoboot:  2 "
        self.handover = b"" if silent else handover.encode()
        self.state = "countdown"
        self.received = b""

    def read(self, size: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            if self.state == "countdown" and time.monotonic() - self.start >= self.countdown_s:
                self.state = "booted"
                self.pending += self.handover
            if self.pending:
                data, self.pending = self.pending[:size], self.pending[size:]
                return data
            if time.monotonic() >= deadline:
                return b""
            time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))

    def write(self, data: bytes) -> None:
        self.received += data
        if self.state == "countdown" and self.listens:
            self.state = "prompt"
            self.pending += self.prompt.encode()
        elif self.state == "prompt":
            self.pending += data.replace(b"\x03", b"<INTERRUPT>" + self.prompt.encode()).replace(b"\x1b", b"")

    def close(self) -> None:
        pass


def fake_console(**kwargs: object) -> tuple[Console, FakeBootloaderStream]:
    stream = FakeBootloaderStream(**kwargs)  # type: ignore[arg-type]
    return Console(stream, name="fake-bootloader", default_timeout=5), stream


def test_interruptible_countdown_is_fail_naming_the_prompt():
    console, stream = fake_console()
    result = check_bootloader_console(console, window_s=3)
    assert result.verdict is Verdict.FAIL
    assert result.reached == "U-Boot command prompt '=>'"
    assert "Hit any key to stop autoboot" in result.reason
    assert stream.received  # keys were really pressed


def test_keys_only_during_countdown_still_reach_prompt():
    console, stream = fake_console()
    result = check_bootloader_console(console, window_s=3, keys_from_power_on=False)
    assert result.verdict is Verdict.FAIL
    assert stream.received[:1] == b" "


def test_ignored_keys_and_handover_is_pass():
    console, _ = fake_console(listens=False, countdown_s=0.3)
    result = check_bootloader_console(console, window_s=3)
    assert result.verdict is Verdict.PASS
    assert "countdown did not stop" in result.reason
    assert result.keys_sent > 0


def test_no_countdown_no_prompt_is_pass_at_window_end():
    console, _ = fake_console(countdown_s=0, handover="Loading firmware\r\n")
    started = time.monotonic()
    result = check_bootloader_console(console, window_s=1.0)
    assert result.verdict is Verdict.PASS
    assert "no autoboot countdown" in result.reason
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("\r\nU-Boot> ", "U-Boot command prompt 'U-Boot>'"),
        ("\r\nbarebox@Boundary Devices i.MX6:/ ", "barebox shell"),
        ("\r\ngrub> ", "GRUB command line 'grub>'"),
        ("\r\nRedBoot> ", "RedBoot prompt"),
        ("\r\nMarvell>> ", "U-Boot command prompt (Marvell)"),
    ],
)
def test_other_bootloader_prompts_are_named(prompt, name):
    console, _ = fake_console(prompt=prompt)
    result = check_bootloader_console(console, window_s=3)
    assert result.verdict is Verdict.FAIL, result.evidence()
    assert result.reached == name


def test_prompt_text_followed_by_more_output_is_not_a_prompt():
    console, _ = fake_console(prompt="\r\n=> not really, still booting\r\n", listens=True, countdown_s=0.2)
    result = check_bootloader_console(console, window_s=1.0)
    assert result.verdict is Verdict.PASS


def test_silent_console_is_inconclusive():
    console, _ = fake_console(silent=True)
    result = check_bootloader_console(console, window_s=0.5)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no output" in result.reason


class FakeClosingStream(FakeBootloaderStream):
    """Stand-in for a console whose cable is pulled after the banner."""

    def read(self, size: int, timeout: float) -> bytes:
        data = super().read(size, min(timeout, 0.05))
        if not data and self.state == "booted":
            raise DeviceDisconnected("fake console closed")
        return data


def test_console_closing_is_inconclusive():
    stream = FakeClosingStream(listens=False, countdown_s=0.1, handover="")
    result = check_bootloader_console(Console(stream, name="fake", default_timeout=2), window_s=2)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "closed" in result.reason


# --- the real U-Boot in QEMU ---------------------------------------------------------------------

needs_uboot = pytest.mark.skipif(
    not (QEMU and UBOOT_BIN.exists()),
    reason="needs qemu-system-aarch64 and u-boot-qemu's qemu_arm64/u-boot.bin "
    "(apt-get install qemu-system-arm u-boot-qemu)",
)


def make_env_flash(directory: Path, variables: dict[str, str]) -> Path:
    if not MKENVIMAGE:
        pytest.skip("needs mkenvimage (apt-get install u-boot-tools)")
    return _make_env_flash(directory, variables)


def uboot_console(env_flash: Path | None = None) -> Console:
    """U-Boot on the virt board's PL011, on a pty; the console exists before the first byte.

    `signal=off`: Ctrl-C, one of the interrupt keys, goes to U-Boot instead of ending QEMU.
    """
    argv = [QEMU or "qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57", "-m", "256"]
    argv += [
        "-display",
        "none",
        "-monitor",
        "none",
        "-chardev",
        "stdio,id=con,signal=off",
        "-serial",
        "chardev:con",
        "-bios",
        str(UBOOT_BIN),
    ]
    argv += ["-nic", "none"]
    if env_flash is not None:
        argv += ["-drive", f"if=pflash,unit=1,format=raw,file={env_flash}"]
    # raw: a Ctrl-C pressed before QEMU has set up its stdio must reach U-Boot, not kill QEMU
    return Console(ProcessStream(argv, raw=True), name="qemu-u-boot", default_timeout=10)


@pytest.mark.integration
@needs_uboot
def test_stock_uboot_is_fail():
    with uboot_console() as console:
        result = check_bootloader_console(console, window_s=15)
    assert result.verdict is Verdict.FAIL, result.evidence()
    assert result.reached == "U-Boot command prompt '=>'"
    assert "Hit any key to stop autoboot" in result.reason


@pytest.mark.integration
@needs_uboot
def test_stock_uboot_is_fail_with_keys_only_during_countdown():
    with uboot_console() as console:
        result = check_bootloader_console(
            console, window_s=15, keys_from_power_on=False, interrupt_keys=["\x03"]
        )
    assert result.verdict is Verdict.FAIL, result.evidence()


@pytest.mark.integration
@needs_uboot
def test_uboot_with_bootdelay_minus_2_is_pass(tmp_path):
    with uboot_console(make_env_flash(tmp_path, LOCKED_ENV)) as console:
        result = check_bootloader_console(console, window_s=15)
    assert result.verdict is Verdict.PASS, result.evidence()
    assert "U-Boot starting an application" in result.reason
    assert result.keys_sent > 0  # keys were pressed from power-on and ignored
    assert "U-Boot banner" in "\n".join(result.events)


@pytest.mark.integration
@needs_uboot
def test_uboot_falling_through_to_prompt_after_failed_bootcmd_is_fail(tmp_path):
    env = {"bootdelay": "-2", "bootcmd": "load virtio 0:1 0x40200000 /boot/Image"}
    with uboot_console(make_env_flash(tmp_path, env)) as console:
        result = check_bootloader_console(console, window_s=15, keys_from_power_on=False)
    assert result.verdict is Verdict.FAIL, result.evidence()
    assert "without any key press" in result.reason


@pytest.mark.integration
@needs_uboot
def test_uboot_with_bootdelay_0_is_fail_for_keys_held_from_power_on(tmp_path):
    """Measured: bootdelay=0 still polls once ("Hit any key to stop autoboot:  0"); a key already
    waiting stops it, a key sent after seeing the line is too late. Hence keys_from_power_on."""
    env = {**LOCKED_ENV, "bootdelay": "0"}
    with uboot_console(make_env_flash(tmp_path, env)) as console:
        result = check_bootloader_console(console, window_s=15)
    assert result.verdict is Verdict.FAIL, result.evidence()
