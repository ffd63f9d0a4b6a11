"""FS38-05: can the bootloader be interrupted into an interactive console?

An attacker with the serial port powers the device on and presses keys while the bootloader counts
down. A command prompt (U-Boot `=> `, barebox, GRUB `grub>`, ...) gives them memory read/write,
boot arguments and flash access: a FAIL naming what was reached. A device whose bootloader goes
straight on to the operating system, ignoring keys, is a PASS. A console that stays silent proves
nothing (no power, wrong port): INCONCLUSIVE.

The console is watched, and keys pressed, by harness.probes.bootloader (with the patterns below);
this module judges what that watch saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.observations.bootloader import BootloaderWatch
from harness.results.outcome import Outcome


@dataclass(frozen=True)
class ConsolePattern:
    name: str
    regex: str


# Interactive bootloader prompts; \Z: the prompt is the last thing the console printed.
BOOTLOADER_PROMPTS: tuple[ConsolePattern, ...] = (
    ConsolePattern("U-Boot command prompt '=>'", r"(?:\A|\n)=>[ \t]*\Z"),
    ConsolePattern("U-Boot command prompt 'U-Boot>'", r"U-Boot>[ \t]*\Z"),
    ConsolePattern("U-Boot command prompt (Marvell)", r"Marvell>>[ \t]*\Z"),
    ConsolePattern(
        "U-Boot command prompt (Atheros/Qualcomm)", r"(?:\A|\n)(?:ath|ar7240|ar7100|IPQ\w*)[>#][ \t]*\Z"
    ),
    ConsolePattern("barebox shell", r"barebox@[^\n]*:/\S*[ \t]*\Z"),
    ConsolePattern("GRUB command line 'grub>'", r"grub>[ \t]*\Z"),
    ConsolePattern("GRUB rescue shell", r"grub rescue>[ \t]*\Z"),
    ConsolePattern("RedBoot prompt", r"RedBoot>[ \t]*\Z"),
    ConsolePattern("CFE prompt", r"CFE>[ \t]*\Z"),
    ConsolePattern("UEFI shell", r"Shell>[ \t]*\Z"),
)
# Autoboot countdowns: the moment a key press is listened for.
COUNTDOWNS: tuple[ConsolePattern, ...] = (
    ConsolePattern("U-Boot countdown", r"Hit any key to stop autoboot"),
    ConsolePattern("barebox countdown", r"Hit m for menu or any other key to stop autoboot"),
    ConsolePattern(
        "autoboot countdown",
        r"(?i)(?:hit|press|type) [^\n]{0,30}to (?:stop|abort|interrupt) (?:auto-?boot|boot)",
    ),
    ConsolePattern("autoboot countdown", r"(?i)auto-?boot(?:ing)? in \d+ ?s"),
    ConsolePattern("GRUB menu timeout", r"will be (?:executed|booted) automatically in \d+ ?s"),
)
# A GRUB menu that offers editing: pressing `c` should reach `grub>`; a password request is locked.
GRUB_EDITABLE_MENU = ConsolePattern("GRUB menu offering edit/command line", r"`c' for a command[- ]line")
GRUB_PASSWORD = ConsolePattern("GRUB superuser password request", r"Enter username:[ \t]*\Z")
# The bootloader has handed over: keys can no longer reach it.
OS_HANDOVER: tuple[ConsolePattern, ...] = (
    ConsolePattern("U-Boot starting the kernel", r"Starting kernel \.\.\."),
    ConsolePattern("U-Boot starting an application", r"## Starting application at 0x[0-9a-fA-F]+"),
    ConsolePattern("Linux decompressor", r"(?:Uncompressing|Decompressing) Linux"),
    ConsolePattern("EFI stub booting Linux", r"EFI stub: Booting Linux"),
    ConsolePattern("Linux login prompt", r"login:[ \t]*\Z"),
)
BOOTLOADER_BANNERS: tuple[ConsolePattern, ...] = (
    ConsolePattern("U-Boot banner", r"U-Boot (?:SPL )?\d{4}\.\d{2}[^\n]*\n"),
    ConsolePattern("barebox banner", r"barebox \d{4}\.\d{2}[^\n]*\n"),
    ConsolePattern("GRUB banner", r"GNU GRUB +version [^\n]*\n"),
)


def judge_bootloader_watch(watch: BootloaderWatch) -> Outcome:
    """FAIL at a bootloader prompt that stayed; PASS when the OS took over, or when the console
    printed without a prompt for the whole window; INCONCLUSIVE when it closed or stayed silent."""
    why = "countdown did not stop on key presses" if watch.countdown else "no autoboot countdown"
    details = {"reached": watch.reached, "countdown": watch.countdown, "keys_sent": watch.keys_sent}
    if watch.ended_by == "prompt":
        how = f"after interrupting '{watch.countdown}'" if watch.countdown else "without a countdown"
        if watch.keys_sent == 0:
            how = "without any key press (autoboot fell through to the prompt)"
        finding = f"interactive bootloader console reachable: {watch.reached} {how}"
        return Outcome.failed([finding], details=details)
    if watch.ended_by == "handover":
        return Outcome.passed(
            f"booted on without a bootloader prompt ({why}; {watch.reached})", details=details
        )
    if watch.ended_by == "closed":
        return Outcome.inconclusive(
            f"the console closed during the watch: {watch.closed_because}",
            ["the console, until the bootloader was decided"],
            details=details,
        )
    if not watch.printed:
        return Outcome.inconclusive(
            f"no output on the console within {watch.window_s:g} s: is the device powered on, is this its console?",
            ["console output from power-on"],
            details=details,
        )
    return Outcome.passed(f"no bootloader prompt within {watch.window_s:g} s ({why})", details=details)


def watch_evidence(watch: BootloaderWatch, outcome: Outcome) -> str:
    """The evidence file: the verdict and reason, the keys sent, the timeline, the last console text."""
    lines = [
        f"verdict: {outcome.verdict}",
        f"reason: {outcome.reason}",
        f"keys sent: {watch.keys_sent}",
        "timeline:",
    ]
    lines += [f"  {event}" for event in watch.events]
    lines += ["last console text:", watch.tail]
    return "\n".join(lines) + "\n"
