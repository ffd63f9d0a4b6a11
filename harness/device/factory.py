"""The one factory: a profile and a lab config in, the device's capabilities out.

For each capability, in the order below, it asks the registered drivers (harness.device.
registry) in their order; the first that the configuration selects provides it. A capability
no driver provides is simply absent: the tests that need it end INCONCLUSIVE naming it.
"""

from __future__ import annotations

from harness.capabilities import (
    AtPort,
    BootMedia,
    Capture,
    ConsolePort,
    FirmwareFiles,
    LabAddressing,
    NetworkLink,
    Power,
    TestCell,
    UpdateChannel,
    UpdateSigning,
    UsbAttachment,
)
from harness.device.registry import BuildContext, drivers_for

# Built in this order (later drivers may look up earlier ones in ctx.shared) and started in it.
CAPABILITIES: tuple[type, ...] = (
    LabAddressing,
    ConsolePort,
    Power,
    Capture,
    FirmwareFiles,
    UpdateSigning,
    UpdateChannel,
    TestCell,  # before AtPort: an emulated module's radio is the cell's
    AtPort,
    BootMedia,
    UsbAttachment,
    NetworkLink,  # after LabAddressing: the emulated link is the lab network's tap
)


def build_capabilities(ctx: BuildContext) -> dict[type, object]:
    """Each capability's driver, as the profile and lab config select them."""
    built: dict[type, object] = {}
    for capability in CAPABILITIES:
        for entry in drivers_for(capability):
            driver = entry.build(ctx)
            if driver is not None:
                built[capability] = driver
                ctx.shared[capability] = driver
                break
    return built
