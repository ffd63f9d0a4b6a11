"""FS38-02: does the platform refuse to run a boot image whose signature does not verify?

The evidence is the console of real boot attempts: the vendor-signed chain, then images whose
signature cannot verify (a one-byte-modified kernel behind the signed loaders, an unsigned boot
loader). A tampered image that reaches the kernel is a FAIL naming it. Refusals only count when
the signed chain boots on the same platform: a platform that boots nothing refuses everything
and proves nothing (INCONCLUSIVE). An attempt that shows neither a boot nor a refusal is
INCONCLUSIVE too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from harness.results.verdicts import Verdict


class BootOutcome(Enum):
    BOOTED = "booted"  # the kernel ran
    REFUSED = "refused"  # firmware or a boot stage said no
    UNDECIDED = "undecided"  # neither within the time limit


# Lines only a running kernel prints (the EFI stub runs inside the kernel image).
KERNEL_MARKERS: tuple[str, ...] = (
    r"EFI stub: ",
    r"Linux version \d+\.\d+",
    r"Run /\S*init as init process",
    r"Kernel panic - not syncing",
)
# What UEFI firmware, shim and GRUB print when a signature does not verify (or nothing is left to boot).
REFUSAL_MARKERS: tuple[str, ...] = (
    r"Access Denied",
    r"Security Violation",
    r"bad shim signature",
    r"[Vv]erification failed",
    r"prohibited by secure boot policy",
    r"you need to load the kernel first",
    r"No bootable option or device was found",
    r"Failed to load image",
)
SECURE_BOOT_ON = r"[Ss]ecure [Bb]oot (?:is )?enabled"


@dataclass(frozen=True)
class BootObservation:
    """How one attempt ended, with the console line that shows it."""

    outcome: BootOutcome
    line: str = ""
    reached_login: bool = False
    secure_boot_reported: bool = False


def _first_line(text: str, patterns: Sequence[str]) -> str | None:
    for line in text.splitlines():
        if any(re.search(pattern, line) for pattern in patterns):
            return line.strip()
    return None


def observe_boot(console: str, login_prompt: str = r"\blogin: ") -> BootObservation:
    """Classify a boot attempt's console text. Any kernel output means it booted, even after
    a refusal message (a boot stage that complains and then runs the image anyway)."""
    login = re.search(login_prompt, console, re.MULTILINE) is not None
    secure = re.search(SECURE_BOOT_ON, console) is not None
    kernel_line = _first_line(console, KERNEL_MARKERS)
    if kernel_line or login:
        return BootObservation(BootOutcome.BOOTED, kernel_line or "login prompt", login, secure)
    refusal = _first_line(console, REFUSAL_MARKERS)
    if refusal:
        return BootObservation(BootOutcome.REFUSED, refusal, False, secure)
    return BootObservation(BootOutcome.UNDECIDED, "", False, secure)


def is_decisive(console: str, *, want_login: bool, login_prompt: str = r"\blogin: ") -> bool:
    """Whether a running attempt can stop: refused, or booted (to the login prompt if wanted)."""
    seen = observe_boot(console, login_prompt)
    if seen.outcome is BootOutcome.REFUSED:
        return True
    if seen.outcome is BootOutcome.BOOTED:
        return seen.reached_login or not want_login
    return False


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(signed: BootObservation, tampered: Sequence[tuple[str, BootObservation]]) -> Judgement:
    """The verdict from the signed chain's attempt and each unverifiable image's attempt."""
    if not tampered:
        return Judgement(Verdict.INCONCLUSIVE, "no image with an unverifiable signature was tried")
    booted = [f"{name} ({seen.line})" for name, seen in tampered if seen.outcome is BootOutcome.BOOTED]
    if booted:
        return Judgement(
            Verdict.FAIL, "image(s) whose signature does not verify booted: " + "; ".join(booted)
        )
    if signed.outcome is not BootOutcome.BOOTED:
        what = f"it was refused: {signed.line}" if signed.line else "no kernel output within the time limit"
        return Judgement(
            Verdict.INCONCLUSIVE, f"the signed boot chain did not boot ({what}), so refusals prove nothing"
        )
    undecided = [name for name, seen in tampered if seen.outcome is BootOutcome.UNDECIDED]
    if undecided:
        return Judgement(
            Verdict.INCONCLUSIVE,
            "neither a boot nor a refusal on the console for: " + ", ".join(undecided),
        )
    refused = "; ".join(f"{name} refused ({seen.line})" for name, seen in tampered)
    return Judgement(Verdict.PASS, f"signed chain booted ({signed.line}); {refused}")
