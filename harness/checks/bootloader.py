"""FS38-05: can the bootloader be interrupted into an interactive console?

An attacker with the serial port powers the device on and presses keys while the bootloader counts
down. A command prompt (U-Boot `=> `, barebox, GRUB `grub>`, ...) gives them memory read/write,
boot arguments and flash access: a FAIL naming what was reached. A device whose bootloader goes
straight on to the operating system, ignoring keys, is a PASS. A console that stays silent proves
nothing (no power, wrong port): INCONCLUSIVE.

The check watches the cleaned console text (see harness.transports.console) from power-on, so the caller
opens the console first and then powers the device on (or starts QEMU).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.errors import DeviceDisconnected, DeviceTimeout
from harness.results.verdicts import Verdict
from harness.transports.console import Console

# Keys people press to stop autoboot: any key (space), Ctrl-C (U-Boot, RedBoot), ESC (GRUB, UEFI).
DEFAULT_INTERRUPT_KEYS: tuple[str, ...] = (" ", "\x03", "\x1b")
KEY_INTERVAL_S = 0.05  # a held-down key repeats about this fast
SETTLE_S = 0.3  # a prompt is a prompt only if the console then stays quiet
TAIL_CHARACTERS = 400


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


@dataclass
class BootloaderAssessment:
    """The verdict, what was reached, and a timeline (seconds since the watch began) as evidence."""

    verdict: Verdict
    reason: str
    reached: str | None = None
    events: list[str] = field(default_factory=list)
    keys_sent: int = 0
    transcript_tail: str = ""

    def evidence(self) -> str:
        lines = [
            f"verdict: {self.verdict}",
            f"reason: {self.reason}",
            f"keys sent: {self.keys_sent}",
            "timeline:",
        ]
        lines += [f"  {event}" for event in self.events]
        lines += ["last console text:", self.transcript_tail]
        return "\n".join(lines) + "\n"


class _Watch:
    """State of one watch: the timeline, the text seen, the keys to press."""

    def __init__(self, console: Console, keys: Sequence[str]) -> None:
        self.console = console
        self.keys = [key for key in keys if key] or list(DEFAULT_INTERRUPT_KEYS)
        self.start = time.monotonic()
        self.events: list[str] = []
        self.seen = ""
        self.keys_sent = 0
        self.unmatched = ""  # text after the last match, known after a timed-out wait

    def note(self, event: str) -> None:
        self.events.append(f"{time.monotonic() - self.start:6.2f} s  {event}")

    def press_key(self) -> None:
        self.console.send(self.keys[self.keys_sent % len(self.keys)])
        self.keys_sent += 1

    def wait(self, patterns: Sequence[ConsolePattern], timeout: float) -> ConsolePattern | None:
        """The pattern that matched within `timeout`, else None (DeviceDisconnected passes through)."""
        try:
            index = self.console.expect([p.regex for p in patterns], timeout=max(0.0, timeout))
        except DeviceTimeout:
            self.unmatched = self.console.before
            return None
        match = self.console.match
        self.seen += self.console.before + (match.group(0) if match else "")
        self.unmatched = ""
        return patterns[index]

    def settled(self) -> bool:
        """Nothing but whitespace arrives within SETTLE_S: what matched last is really a prompt."""
        return self.wait([ConsolePattern("more output", r"\S")], SETTLE_S) is None

    def result(self, verdict: Verdict, reason: str, reached: str | None = None) -> BootloaderAssessment:
        self.note(f"verdict {verdict}: {reason}")
        tail = (self.seen + self.unmatched)[-TAIL_CHARACTERS:]
        return BootloaderAssessment(verdict, reason, reached, self.events, self.keys_sent, tail)


def check_bootloader_console(
    console: Console,
    *,
    window_s: float,
    interrupt_keys: Sequence[str] = DEFAULT_INTERRUPT_KEYS,
    keys_from_power_on: bool = True,
) -> BootloaderAssessment:
    """Watch a console from power-on for `window_s` seconds and try to stop autoboot.

    Keys are pressed (cycling through `interrupt_keys`) every KEY_INTERVAL_S while a countdown is
    shown, and from the start if `keys_from_power_on` (a bootloader with bootdelay=0 still listens
    for one instant without showing a countdown). Key pressing stops at the first prompt-like text
    or when the operating system takes over. The watch ends early at a settled bootloader prompt
    (FAIL) or an OS handover (PASS); at the end of the window without either, some console output
    is a PASS and silence is INCONCLUSIVE.
    """
    watch = _Watch(console, interrupt_keys)
    deadline = watch.start + window_s
    pressing = keys_from_power_on
    countdown_seen: str | None = None
    patterns = [
        *BOOTLOADER_PROMPTS,
        GRUB_EDITABLE_MENU,
        GRUB_PASSWORD,
        *OS_HANDOVER,
        *COUNTDOWNS,
        *BOOTLOADER_BANNERS,
    ]
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            found = watch.wait(patterns, min(remaining, KEY_INTERVAL_S) if pressing else remaining)
            if found is None:
                if pressing and time.monotonic() < deadline:
                    watch.press_key()
                continue
            if found in BOOTLOADER_PROMPTS:
                pressing = False
                if watch.settled():
                    how = (
                        f"after interrupting '{countdown_seen}'" if countdown_seen else "without a countdown"
                    )
                    if watch.keys_sent == 0:
                        how = "without any key press (autoboot fell through to the prompt)"
                    watch.note(f"{found.name} reached and stayed")
                    return watch.result(
                        Verdict.FAIL,
                        f"interactive bootloader console reachable: {found.name} {how}",
                        found.name,
                    )
                watch.note(f"{found.name}-like text, but output continued")
            elif found is GRUB_EDITABLE_MENU:
                watch.note(f"{found.name}: pressing 'c'")
                pressing = False
                console.send("c")
            elif found is GRUB_PASSWORD:
                pressing = False
                watch.note("GRUB asks for a superuser password: its command line is locked")
            elif found in OS_HANDOVER:
                watch.note(f"{found.name}: the bootloader has handed over")
                why = "countdown did not stop on key presses" if countdown_seen else "no autoboot countdown"
                return watch.result(
                    Verdict.PASS, f"booted on without a bootloader prompt ({why}; {found.name})"
                )
            elif found in COUNTDOWNS:
                if countdown_seen is None:
                    countdown_seen = (console.match.group(0) if console.match else found.name).strip()
                    watch.note(f"{found.name}: {countdown_seen!r}, pressing keys")
                pressing = True
                watch.press_key()
            else:
                watch.note(f"{found.name}: {(console.match.group(0) if console.match else '').strip()!r}")
    except DeviceDisconnected as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return watch.result(Verdict.INCONCLUSIVE, f"the console closed during the watch: {first_line}")
    if not (watch.seen + watch.unmatched).strip():
        return watch.result(
            Verdict.INCONCLUSIVE,
            f"no output on the console within {window_s:g} s: is the device powered on, is this its console?",
        )
    why = "countdown did not stop on key presses" if countdown_seen else "no autoboot countdown"
    return watch.result(Verdict.PASS, f"no bootloader prompt within {window_s:g} s ({why})")
