"""Watch a console from power-on and press keys to stop autoboot (FS38-05's bootloader test).

The caller opens the console first and then powers the device on (or starts QEMU). Keys are
pressed while a countdown shows (and from power-on, if asked); the watch stops at a bootloader
prompt that stays, at the OS taking over, when the console closes, or at the end of the window.
What was seen is a `BootloaderWatch`; `harness.checks.bootloader.judge_bootloader_watch` decides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import DeviceDisconnected, DeviceTimeout
from harness.observations.bootloader import BootloaderWatch, WatchEnd
from harness.transports.console import Console
from harness.util.deadlines import Deadline

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


class _Watch:
    """State of one watch: the timeline, the text seen, the keys to press."""

    def __init__(self, console: Console, keys: Sequence[str], window_s: float) -> None:
        self.console = console
        self.keys = [key for key in keys if key] or list(DEFAULT_INTERRUPT_KEYS)
        self.window_s = window_s
        self.start = time.monotonic()
        self.events: list[str] = []
        self.seen = ""  # the last TAIL_CHARACTERS of matched text
        self.printed = False
        self.keys_sent = 0
        self.countdown: str | None = None
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
            self.printed = self.printed or bool(self.unmatched.strip())
            return None
        match = self.console.match
        text = self.console.before + (match.group(0) if match else "")
        self.printed = self.printed or bool(text.strip())
        self.seen = (self.seen + text)[-TAIL_CHARACTERS:]
        self.unmatched = ""
        return patterns[index]

    def settled(self) -> bool:
        """Nothing but whitespace arrives within SETTLE_S: what matched last is really a prompt."""
        return self.wait([ConsolePattern("more output", r"\S")], SETTLE_S) is None

    def ended(self, how: WatchEnd, reached: str | None = None, closed_because: str = "") -> BootloaderWatch:
        return BootloaderWatch(
            window_s=self.window_s,
            ended_by=how,
            reached=reached,
            countdown=self.countdown,
            keys_sent=self.keys_sent,
            printed=self.printed,
            closed_because=closed_because,
            events=self.events,
            tail=(self.seen + self.unmatched)[-TAIL_CHARACTERS:],
        )


def watch_bootloader(
    console: Console,
    *,
    window_s: float,
    interrupt_keys: Sequence[str] = DEFAULT_INTERRUPT_KEYS,
    keys_from_power_on: bool = True,
) -> BootloaderWatch:
    """Watch a console from power-on for `window_s` seconds and try to stop autoboot.

    Keys are pressed (cycling through `interrupt_keys`) every KEY_INTERVAL_S while a countdown is
    shown, and from the start if `keys_from_power_on` (a bootloader with bootdelay=0 still listens
    for one instant without showing a countdown). Key pressing stops at the first prompt-like text
    or when the operating system takes over. The watch ends early at a settled bootloader prompt
    or an OS handover.
    """
    watch = _Watch(console, interrupt_keys, window_s)
    deadline = Deadline(watch.start + max(0.0, window_s))  # the window counts from power-on
    pressing = keys_from_power_on
    patterns = [
        *BOOTLOADER_PROMPTS,
        GRUB_EDITABLE_MENU,
        GRUB_PASSWORD,
        *OS_HANDOVER,
        *COUNTDOWNS,
        *BOOTLOADER_BANNERS,
    ]
    try:
        while (remaining := deadline.remaining()) > 0:
            found = watch.wait(patterns, min(remaining, KEY_INTERVAL_S) if pressing else remaining)
            if found is None:
                if pressing and not deadline.expired:
                    watch.press_key()
                continue
            if found in BOOTLOADER_PROMPTS:
                pressing = False
                if watch.settled():
                    watch.note(f"{found.name} reached and stayed")
                    return watch.ended("prompt", found.name)
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
                return watch.ended("handover", found.name)
            elif found in COUNTDOWNS:
                if watch.countdown is None:
                    watch.countdown = (console.match.group(0) if console.match else found.name).strip()
                    watch.note(f"{found.name}: {watch.countdown!r}, pressing keys")
                pressing = True
                watch.press_key()
            else:
                watch.note(f"{found.name}: {(console.match.group(0) if console.match else '').strip()!r}")
    except DeviceDisconnected as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        watch.note(f"the console closed: {first_line}")
        return watch.ended("closed", closed_because=first_line)
    watch.note(f"the {window_s:g} s window is over")
    return watch.ended("window")
