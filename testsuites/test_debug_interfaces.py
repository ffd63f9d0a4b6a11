"""FS38-05: debug ports are locked down: no interruptible bootloader, no undeclared USB debug function.

The decisions live in harness.checks.bootloader and harness.checks.usb_interfaces (tested both
ways against real U-Boot in QEMU and real products' USB descriptors); these tests apply them to
the device under test as its profile describes it.
"""

from __future__ import annotations

import pytest

from harness.checks.bootloader import check_bootloader_console
from harness.checks.usb_interfaces import check_usb_interfaces
from harness.results.verdicts import Verdict, inconclusive, not_applicable

pytestmark = pytest.mark.requirement("FS38-05", "EN303645-5.6-4", "CLP13_8.2")

BOOTLOADER_WINDOW_S = 20.0


def _skip_if_absent(device, feature: str) -> None:
    reason = device.profile.features.absence_reason(feature)
    if reason:
        not_applicable(reason)


def test_bootloader_console_cannot_be_interrupted(device, evidence):
    """Keys pressed from power-on and during any autoboot countdown reach no bootloader prompt."""
    _skip_if_absent(device, "bootloader_console")
    if device.is_emulated and device.profile.features.has("bootloader_console") is None:
        not_applicable(
            "the emulated device boots its kernel directly from QEMU (-kernel): it has no bootloader"
        )
    watch_from_power_on = getattr(device, "power_cycle_to_raw_console", None)
    if watch_from_power_on is None:
        inconclusive(
            "the device fixture cannot hand over the console from power-on "
            "(needs Device.power_cycle_to_raw_console()), so the bootloader could not be watched"
        )
    console = watch_from_power_on()
    result = check_bootloader_console(console, window_s=BOOTLOADER_WINDOW_S)
    evidence.write_text("bootloader-watch.txt", result.evidence())
    if result.verdict is Verdict.INCONCLUSIVE:
        inconclusive(result.reason)
    assert result.verdict is Verdict.PASS, result.reason


def test_usb_exposes_no_undeclared_debug_function(device, evidence):
    """The device's USB interfaces, read with pyusb, are only the kinds the profile allows."""
    _skip_if_absent(device, "usb")
    if device.is_emulated:
        not_applicable("the emulated device has no USB connection to the lab host")
    usb = getattr(device.profile, "usb", None)
    if usb is None or getattr(usb, "vendor_id", None) is None:
        inconclusive(
            "the profile declares USB but not the device's usb.vendor_id / usb.product_id / "
            "usb.allowed_kinds, so its interfaces cannot be found and judged"
        )
    result = check_usb_interfaces(usb.vendor_id, usb.product_id, set(usb.allowed_kinds))
    evidence.write_text(
        "usb-interfaces.txt",
        "\n".join(
            [f"verdict: {result.verdict}", f"reason: {result.reason}"] + [str(f) for f in result.classified]
        )
        + "\n",
    )
    if result.verdict is Verdict.NOT_APPLICABLE:
        not_applicable(result.reason)
    assert result.verdict is Verdict.PASS, result.reason
