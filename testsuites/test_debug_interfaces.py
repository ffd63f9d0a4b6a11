"""FS38-05: debug ports are locked down: no interruptible bootloader, no undeclared USB debug function.

The decisions live in harness.checks.bootloader and harness.checks.usb_interfaces (tested both
ways against real U-Boot in QEMU and real products' USB descriptors); these tests gather the
evidence (harness.probes.bootloader watches the console) and apply them to the device under test
as its profile describes it.
"""

from __future__ import annotations

import pytest

from harness.capabilities import UsbAttachment
from harness.checks.bootloader import judge_bootloader_watch, watch_evidence
from harness.checks.usb_interfaces import judge_usb_interfaces
from harness.plugin.conclusions import conclude, not_applicable
from harness.probes.bootloader import watch_bootloader

pytestmark = pytest.mark.requirement("FS38-05", "EN303645-5.6-4", "CLP13_8.2")

BOOTLOADER_WINDOW_S = 20.0


def _skip_if_absent(device, feature: str) -> None:
    reason = device.profile.features.absence_reason(feature)
    if reason:
        not_applicable(reason)


@pytest.mark.requirement("TS103701-5.6-4-2a")
def test_bootloader_console_cannot_be_interrupted(unbooted_device, evidence):
    """Keys pressed from power-on and during any autoboot countdown reach no bootloader prompt.

    The device is driven from power-on, so it needs no login prompt first: a board whose
    bootloader has nothing to boot is still judged."""
    device = unbooted_device
    _skip_if_absent(device, "bootloader_console")
    console = device.watch_from_power_on()  # needs power control: INCONCLUSIVE naming it otherwise
    try:
        watch = watch_bootloader(console, window_s=BOOTLOADER_WINDOW_S)
    finally:
        device.strategy.forget()  # whatever the keys did, look at the device before using it again
    outcome = judge_bootloader_watch(watch)
    evidence.write_text("bootloader-watch.txt", watch_evidence(watch, outcome))
    conclude(outcome)


@pytest.mark.requirement("TS103701-5.6-4-2a", "TS103701-5.6-4-2b", "TS103701-5.6-3-2d")
def test_usb_exposes_no_undeclared_debug_function(unbooted_device, evidence):
    """The device's USB interfaces, read with pyusb, are only the kinds the profile allows."""
    device = unbooted_device  # reading descriptors from the host needs no login on the device
    _skip_if_absent(device, "usb")
    usb = device.require(UsbAttachment, "find the device's USB interfaces")
    result = judge_usb_interfaces(
        usb.vendor_id,
        usb.product_id,
        set(usb.allowed_kinds),
        usb.attached(),
        declared=usb.declared_interfaces,
    )
    evidence.write_text(
        "usb-interfaces.txt",
        "\n".join(
            [f"verdict: {result.verdict}", f"reason: {result.reason}"]
            + [
                f"{i['device']} interface {i['interface']} (alternate {i['alternate']}): {i['kind']}"
                f"{' [debug]' if i['debug'] else ''}: {i['description']}"
                for i in result.details["interfaces"]
            ]
        )
        + "\n",
    )
    conclude(result)
