"""FS38-05: can the bootloader be interrupted into an interactive console?

An attacker with the serial port powers the device on and presses keys while the bootloader counts
down. A command prompt (U-Boot `=> `, barebox, GRUB `grub>`, ...) gives them memory read/write,
boot arguments and flash access: a FAIL naming what was reached. A device whose bootloader goes
straight on to the operating system, ignoring keys, is a PASS. A console that stays silent proves
nothing (no power, wrong port): INCONCLUSIVE.

The console is watched, and keys pressed, by harness.probes.bootloader (which knows the prompts,
countdowns and handovers of U-Boot, barebox, GRUB, RedBoot, CFE and UEFI); this module judges
what that watch saw.
"""

from __future__ import annotations

from harness.observations.bootloader import BootloaderWatch
from harness.results.outcome import Outcome


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
