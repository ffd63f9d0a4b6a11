"""FS38-05 (and FS38-01): the serial console is locked down; no input yields a shell without credentials.

At the login prompt and while the device boots, the lab types what backdoors and debug builds
answer: break and control keys, escape sequences, empty, overlong and shell-syntax user names,
well-known magic user names (each with an empty password). A shell prompt that then answers a
command is a FAIL naming the input; each attempt has its own transcript. The device is left at
its login prompt.
"""

from __future__ import annotations

import re
import time

import pytest

from harness.capabilities import Power
from harness.checks.console_lockdown import (
    NOT_POSSIBLE,
    REFUSED,
    SHELL,
    UNJUDGED,
    ConsoleAttempt,
    judge_console_attempts,
)
from harness.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from harness.plugin.conclusions import conclude

pytestmark = pytest.mark.requirement("FS38-05", "FS38-01", "EN303645-5.6-4", "CLP13_8.2")

ANSWER_TIMEOUT_S = 3.0  # what follows an input: a prompt, a refusal, or silence
CONFIRM_TIMEOUT_S = 6.0  # a shell must answer a command within this
BOOT_KEY_INTERVAL_S = 0.4
KILL_LINE = "\x15"  # Ctrl-U (VKILL; getty's line editing too): empties the line typed so far
MAGIC_USER_NAMES = ("factory", "debug", "shell", "service", "engineer", "diag")
# (name, what is typed). A user name is followed by Enter; control keys are sent alone.
INPUTS_AT_LOGIN: tuple[tuple[str, str], ...] = (
    ("Ctrl-C", "\x03"),
    ("Ctrl-D", "\x04"),
    ("Ctrl-Z", "\x1a"),
    ("Ctrl-\\", "\x1c"),
    ("Ctrl-] (telnet escape)", "\x1d"),
    ("Escape", "\x1b"),
    ("escape sequences (cursor keys, clear screen, DECRQSS)", "\x1b[A\x1b[B\x1b[2J\x1bP$q\x1b\\"),
    ("an empty user name", "\n"),
    ("an overlong user name (4096 characters)", "A" * 4096 + "\n"),
    ("a user name with shell syntax", "root;/bin/sh\n"),
    ("a command substitution as user name", "$(/bin/sh)\n"),
    ("login's pre-authenticated flag as user name", "-f root\n"),
    *((f"the magic user name {name!r} with an empty password", name + "\n") for name in MAGIC_USER_NAMES),
)
BOOT_KEYS = ("\x03", "\x1b", "\n", " ", "\x04", "s\n", "shell\n")


def _slug(index: int, name: str) -> str:
    return f"lockdown-{index:02d}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] + ".log"


def _shell_answers(console) -> bool:
    """A settled shell prompt is only a shell if it runs a command."""
    try:
        return console.run("echo lockdown", timeout=CONFIRM_TIMEOUT_S).output.strip().endswith("lockdown")
    except DeviceTimeout:
        return False


def _what_follows(console, settings) -> tuple[str, str, bool]:
    """(result, detail, at login) after an input: a password prompt gets an empty password.

    `at login`: the refusal ended at a settled login prompt (consumed), where the next input can
    be typed without probing the console again."""
    patterns = [
        settings.shell_prompt,
        settings.password_prompt,
        settings.login_prompt,
        settings.failure_pattern,
    ]
    try:
        index = console.expect(patterns, timeout=ANSWER_TIMEOUT_S)
        if index == 1:
            console.sendline("")
            index = console.expect([patterns[0], patterns[3], patterns[2]], timeout=ANSWER_TIMEOUT_S + 4)
            index = {0: 0, 1: 3, 2: 2}[index]
    except DeviceTimeout:
        # What the input left in the line (an escape sequence's printable tail) is not sent as a
        # user name by the newline that looks at the console next: that cost a refusal's delay.
        console.send(KILL_LINE)
        return REFUSED, "no shell prompt followed (the console stayed silent or kept asking)", False
    if index == 0 and console.settled() and _shell_answers(console):
        return SHELL, "a shell prompt appeared and ran a command", False
    at_login = _settles_at_login(console, settings, index)
    return REFUSED, "refused (a login prompt or a refusal followed)", at_login


def _settles_at_login(console, settings, index: int) -> bool:
    """After a login prompt (2) or a refusal (3, its login prompt follows): it settles."""
    try:
        if index == 3:
            console.expect([settings.login_prompt], timeout=ANSWER_TIMEOUT_S)
        return index in (2, 3) and console.settled()
    except DeviceTimeout:
        return False


@pytest.mark.requirement("TS103701-5.6-4-2b", "TS103701-5.5-4-2a")
def test_console_gives_no_shell_at_the_login_prompt(device, evidence):
    """Control keys, escapes, odd and magic user names at the login prompt never give a shell."""
    settings = device.login_settings
    attempts: list[ConsoleAttempt] = []
    for index, (name, typed) in enumerate(INPUTS_AT_LOGIN, start=1):
        transcript = _slug(index, name)
        at_login = False
        try:
            console = device.logout()
            console.start_transcript(evidence.path(transcript))
            console.send(typed)
            result, detail, at_login = _what_follows(console, settings)
        except (DeviceDisconnected, DeviceError) as err:
            result, detail = UNJUDGED, f"the console could not be driven: {err}"
        attempts.append(ConsoleAttempt(name, "login prompt", result, detail, transcript))
        if result == SHELL:
            device.mark_logged_in()
        if at_login:
            device.console_at_login()  # the next input starts at the login prompt the refusal left
        else:
            device.console_touched()
    attempts.append(
        ConsoleAttempt(
            "BREAK (SysRq)", "login prompt", NOT_POSSIBLE, "the console stream cannot send a break"
        )
    )
    _leave_at_login(device, evidence)
    evidence.write_json("lockdown.json", [a.__dict__ for a in attempts])
    conclude(judge_console_attempts(attempts))


@pytest.mark.requirement("TS103701-5.6-4-2b")
def test_console_gives_no_shell_during_boot(device, evidence):
    """Keys that interrupt a debug build's boot (Ctrl-C, Esc, Enter, space, 's') never give a shell."""
    device.require(Power, "watch the console from power-on and type while the device boots")
    settings = device.login_settings
    transcript = "lockdown-boot.log"
    started = time.monotonic()
    console = device.watch_from_power_on()
    console.start_transcript(evidence.path(transcript))
    result, detail = UNJUDGED, "no login prompt came within the boot timeout"
    deadline = started + device.boot_timeout
    sent = 0
    try:
        while time.monotonic() < deadline:
            console.send(BOOT_KEYS[sent % len(BOOT_KEYS)])
            sent += 1
            try:
                index = console.expect(
                    [settings.shell_prompt, settings.login_prompt], timeout=BOOT_KEY_INTERVAL_S
                )
            except DeviceTimeout:
                continue
            if index == 0 and console.settled() and _shell_answers(console):
                result, detail = SHELL, f"a shell answered after {sent} boot keys"
                device.mark_logged_in()
            elif index == 1:
                result, detail = REFUSED, f"the login prompt came after {sent} boot keys, no shell before it"
            else:
                continue
            break
    except DeviceDisconnected as err:
        result, detail = UNJUDGED, f"the console went away during boot: {err}"
    device.console_touched()
    attempt = ConsoleAttempt("break and control keys while booting", "boot", result, detail, transcript)
    _leave_at_login(device, evidence)
    evidence.write_json("lockdown-boot.json", [attempt.__dict__])
    conclude(judge_console_attempts([attempt]))


def _leave_at_login(device, evidence) -> None:
    console = device.logout()
    console.start_transcript(evidence.path("console-after.log"))
