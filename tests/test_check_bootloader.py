"""The bootloader lockdown check (FS38-05), both directions: the watch (harness.probes.bootloader)
and the judgement of what it saw (harness.checks.bootloader).

The judgement alone is tested on watches as data. Fast tests drive a scripted stand-in console
(FakeBootloaderStream) through the watch. The integration tests run the
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

from harness.checks.bootloader import judge_bootloader_watch, watch_evidence
from harness.errors import DeviceDisconnected
from harness.observations.bootloader import BootloaderWatch
from harness.probes.bootloader import watch_bootloader
from harness.results.outcome import Outcome
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


def watch_and_judge(console: Console, **kwargs) -> tuple[BootloaderWatch, Outcome]:
    watch = watch_bootloader(console, **kwargs)
    return watch, judge_bootloader_watch(watch)


# --- the judgement alone, on watches as data ----------------------------------------------------


def test_judgement_of_a_prompt_after_a_countdown_is_fail_naming_both():
    watch = BootloaderWatch(
        3, "prompt", "U-Boot command prompt '=>'", "Hit any key to stop autoboot", keys_sent=4, printed=True
    )
    outcome = judge_bootloader_watch(watch)
    assert outcome.verdict is Verdict.FAIL
    assert outcome.reason == (
        "interactive bootloader console reachable: U-Boot command prompt '=>' "
        "after interrupting 'Hit any key to stop autoboot'"
    )
    assert outcome.findings == (outcome.reason,)


def test_judgement_of_a_prompt_without_keys_says_autoboot_fell_through():
    outcome = judge_bootloader_watch(BootloaderWatch(3, "prompt", "GRUB command line 'grub>'", printed=True))
    assert outcome.verdict is Verdict.FAIL
    assert "without any key press" in outcome.reason


def test_judgement_of_a_handover_or_output_without_prompt_is_pass():
    handover = judge_bootloader_watch(BootloaderWatch(3, "handover", "Linux decompressor", printed=True))
    assert handover.verdict is Verdict.PASS and "no autoboot countdown; Linux decompressor" in handover.reason
    window = judge_bootloader_watch(BootloaderWatch(2, "window", countdown="autoboot in 3s", printed=True))
    assert window.verdict is Verdict.PASS and "countdown did not stop" in window.reason


def test_judgement_of_silence_or_a_closed_console_is_inconclusive():
    silent = judge_bootloader_watch(BootloaderWatch(2, "window"))
    assert silent.verdict is Verdict.INCONCLUSIVE and "no output on the console within 2 s" in silent.reason
    closed = judge_bootloader_watch(BootloaderWatch(2, "closed", printed=True, closed_because="EOF"))
    assert closed.verdict is Verdict.INCONCLUSIVE and closed.reason.endswith("closed during the watch: EOF")


def test_evidence_names_verdict_keys_and_timeline():
    watch = BootloaderWatch(
        2, "window", keys_sent=3, printed=True, events=["  0.10 s  U-Boot banner"], tail="x"
    )
    text = watch_evidence(watch, judge_bootloader_watch(watch))
    assert text.startswith("verdict: PASS\nreason: no bootloader prompt within 2 s")
    assert "keys sent: 3\ntimeline:\n    0.10 s  U-Boot banner\nlast console text:\nx\n" in text


# --- the watch on a stand-in console ----------------------------------------------------------


def test_interruptible_countdown_is_fail_naming_the_prompt():
    console, stream = fake_console()
    watch, result = watch_and_judge(console, window_s=3)
    assert result.verdict is Verdict.FAIL
    assert watch.reached == "U-Boot command prompt '=>'"
    assert "Hit any key to stop autoboot" in result.reason
    assert stream.received  # keys were really pressed


def test_keys_only_during_countdown_still_reach_prompt():
    console, stream = fake_console()
    watch, result = watch_and_judge(console, window_s=3, keys_from_power_on=False)
    assert result.verdict is Verdict.FAIL
    assert stream.received[:1] == b" "


def test_ignored_keys_and_handover_is_pass():
    console, _ = fake_console(listens=False, countdown_s=0.3)
    watch, result = watch_and_judge(console, window_s=3)
    assert result.verdict is Verdict.PASS
    assert "countdown did not stop" in result.reason
    assert watch.keys_sent > 0


def test_no_countdown_no_prompt_is_pass_at_window_end():
    console, _ = fake_console(countdown_s=0, handover="Loading firmware\r\n")
    started = time.monotonic()
    watch, result = watch_and_judge(console, window_s=1.0)
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
    watch, result = watch_and_judge(console, window_s=3)
    assert result.verdict is Verdict.FAIL, watch_evidence(watch, result)
    assert watch.reached == name


def test_prompt_text_followed_by_more_output_is_not_a_prompt():
    console, _ = fake_console(prompt="\r\n=> not really, still booting\r\n", listens=True, countdown_s=0.2)
    watch, result = watch_and_judge(console, window_s=1.0)
    assert result.verdict is Verdict.PASS


def test_silent_console_is_inconclusive():
    console, _ = fake_console(silent=True)
    watch, result = watch_and_judge(console, window_s=0.5)
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
    watch, result = watch_and_judge(Console(stream, name="fake", default_timeout=2), window_s=2)
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
        watch, result = watch_and_judge(console, window_s=15)
    assert result.verdict is Verdict.FAIL, watch_evidence(watch, result)
    assert watch.reached == "U-Boot command prompt '=>'"
    assert "Hit any key to stop autoboot" in result.reason


@pytest.mark.integration
@needs_uboot
def test_stock_uboot_is_fail_with_keys_only_during_countdown():
    with uboot_console() as console:
        watch, result = watch_and_judge(
            console, window_s=15, keys_from_power_on=False, interrupt_keys=["\x03"]
        )
    assert result.verdict is Verdict.FAIL, watch_evidence(watch, result)


@pytest.mark.integration
@needs_uboot
def test_uboot_with_bootdelay_minus_2_is_pass(tmp_path):
    with uboot_console(make_env_flash(tmp_path, LOCKED_ENV)) as console:
        watch, result = watch_and_judge(console, window_s=15)
    assert result.verdict is Verdict.PASS, watch_evidence(watch, result)
    assert "U-Boot starting an application" in result.reason
    assert watch.keys_sent > 0  # keys were pressed from power-on and ignored
    assert "U-Boot banner" in "\n".join(watch.events)


@pytest.mark.integration
@needs_uboot
def test_uboot_falling_through_to_prompt_after_failed_bootcmd_is_fail(tmp_path):
    env = {"bootdelay": "-2", "bootcmd": "load virtio 0:1 0x40200000 /boot/Image"}
    with uboot_console(make_env_flash(tmp_path, env)) as console:
        watch, result = watch_and_judge(console, window_s=15, keys_from_power_on=False)
    assert result.verdict is Verdict.FAIL, watch_evidence(watch, result)
    assert "without any key press" in result.reason


@pytest.mark.integration
@needs_uboot
def test_uboot_with_bootdelay_0_is_fail_for_keys_held_from_power_on(tmp_path):
    """Measured: bootdelay=0 still polls once ("Hit any key to stop autoboot:  0"); a key already
    waiting stops it, a key sent after seeing the line is too late. Hence keys_from_power_on."""
    env = {**LOCKED_ENV, "bootdelay": "0"}
    with uboot_console(make_env_flash(tmp_path, env)) as console:
        watch, result = watch_and_judge(console, window_s=15)
    assert result.verdict is Verdict.FAIL, watch_evidence(watch, result)
