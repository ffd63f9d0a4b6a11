"""Reading a boot attempt's console: did the kernel run, did a boot stage refuse the image, or
neither yet. Pure text classification (no I/O) shared by the boot drivers and the secure-boot check."""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.observations.secure_boot import BootObservation, BootOutcome

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
