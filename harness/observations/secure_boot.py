"""How a boot attempt ended and what the platform's variable store says (harness.secureboot and
harness.probes.fit_boot make them, harness.checks.secure_boot judges them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class BootOutcome(Enum):
    BOOTED = "booted"  # the kernel ran
    REFUSED = "refused"  # firmware or a boot stage said no
    UNDECIDED = "undecided"  # neither within the time limit


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
