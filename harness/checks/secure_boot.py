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
    r"Starting kernel \.\.\.",  # U-Boot hands over to a kernel it accepted
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
    # U-Boot verified boot (FIT): a signature or hash that does not verify, nothing left to boot
    r"Failed to verify required signature",
    r"Unable to verify required signature",
    r"Bad Data Hash",
    r"Bad hash value",
    r"can't get kernel image",
)
SECURE_BOOT_ON = r"[Ss]ecure [Bb]oot (?:is )?enabled"
# What the platform itself says when it does not enforce (Linux: "secureboot: Secure boot disabled").
SECURE_BOOT_OFF = r"[Ss]ecure [Bb]oot (?:is )?disabled"


@dataclass(frozen=True)
class BootObservation:
    """How one attempt ended, with the console line that shows it."""

    outcome: BootOutcome
    line: str = ""
    reached_login: bool = False
    secure_boot_reported: bool = False
    secure_boot_off_line: str = ""  # the platform's own report that it does not enforce


@dataclass(frozen=True)
class PlatformState:
    """What the platform's variable store says (None: not known from it)."""

    source: str
    readable: bool = True
    setup_mode: bool | None = None  # no Platform Key enrolled: nothing is verified
    enabled: bool | None = None  # SecureBootEnable
    enrolled: tuple[str, ...] = ()
    problem: str = ""


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
    off = _first_line(console, (SECURE_BOOT_OFF,)) or ""
    if kernel_line or login:
        return BootObservation(BootOutcome.BOOTED, kernel_line or "login prompt", login, secure, off)
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


def platform_failure(platform: PlatformState | None, signed: BootObservation | None) -> str | None:
    """Why the platform enforces nothing, whatever the profile declares: setup mode, Secure Boot
    switched off in its variables, or its own report on the console; None when none of these."""
    reasons = []
    if platform is not None and platform.setup_mode:
        reasons.append(f"the platform is in setup mode (no Platform Key enrolled in its {platform.source})")
    elif platform is not None and platform.enabled is False:
        reasons.append(f"Secure Boot is switched off (SecureBootEnable=0 in its {platform.source})")
    if signed is not None and signed.secure_boot_off_line:
        reasons.append(f"the platform reports {signed.secure_boot_off_line!r} on its console")
    return "; ".join(reasons) or None


def judge(
    signed: BootObservation,
    tampered: Sequence[tuple[str, BootObservation]],
    platform: PlatformState | None = None,
) -> Judgement:
    """The verdict from the platform's state, the signed chain's attempt and each unverifiable
    image's attempt. A platform that does not enforce FAILs whatever the images did."""
    off = platform_failure(platform, signed)
    if off:
        booted = [name for name, seen in tampered if seen.outcome is BootOutcome.BOOTED]
        also = f"; unverifiable images booted: {', '.join(booted)}" if booted else ""
        return Judgement(Verdict.FAIL, f"secure boot is not enforced: {off}{also}")
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
