"""Boot a U-Boot board once from each FIT image: write it (BootMedia), power on watching the
console, and keep what the console showed until the boot was decided (booted or refused).

The board's own FIT is written back afterwards whatever happened, so the bench is left as found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.analysis.boot_console import KERNEL_MARKERS, REFUSAL_MARKERS, observe_boot
from harness.capabilities import BootMedia
from harness.errors import DeviceTimeout
from harness.observations.secure_boot import BootObservation
from harness.secureboot.fit import FitVariant

GRACE_S = 1.5  # after the deciding line: a refusal followed by a boot anyway is still seen


@dataclass(frozen=True)
class FitAttempt:
    variant: FitVariant
    observation: BootObservation
    console: str


def _watch(device: Any, timeout: float) -> str:
    console = device.watch_from_power_on()
    try:
        console.expect(list(KERNEL_MARKERS + REFUSAL_MARKERS), timeout=timeout)
        seen = console.before + (console.match.group(0) if console.match else "")
    except DeviceTimeout:
        return console.before
    try:
        console.expect([r"(?!x)x"], timeout=GRACE_S)
    except DeviceTimeout:
        seen += console.before
    return seen


def boot_each(device: Any, variants: list[FitVariant], own: Path, timeout: float) -> list[FitAttempt]:
    """One power-on per variant; the board's own FIT is restored at the end."""
    media = device.require(BootMedia, "write the FIT image the board boots")
    attempts = []
    try:
        for variant in variants:
            device.strategy.power_off()
            media.write(variant.path)
            text = _watch(device, timeout)
            attempts.append(FitAttempt(variant, observe_boot(text), text))
    finally:
        device.strategy.power_off()
        media.write(own)
        device.strategy.forget()
    return attempts
