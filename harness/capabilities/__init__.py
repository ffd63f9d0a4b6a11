"""Capabilities: the small interfaces a suite binds to, whatever bench provides them.

A suite asks the device for what it needs (`device.require(Power)`), never for a driver, so the
same test runs on a board on a serial port, a board behind labgrid and an emulated image. A
bench without the capability makes the test INCONCLUSIVE with a reason that names the missing
capability and the config key that would provide it (`MissingCapability`). Drivers in
harness/drivers/ implement these protocols (a driver subclasses the protocol it implements, so it
carries NAME and CONFIG); harness/device/factory.py picks them.
"""

from harness.capabilities.base import Capability, MissingCapability, capability_name, config_hint
from harness.capabilities.boot_media import BootMedia
from harness.capabilities.capture import Capture
from harness.capabilities.cell import TestCell
from harness.capabilities.console import ConsolePort
from harness.capabilities.firmware import FirmwareFiles
from harness.capabilities.link import NetworkLink
from harness.capabilities.modem import AtPort
from harness.capabilities.network import LabAddressing
from harness.capabilities.power import Power
from harness.capabilities.update_channel import HandOver, UpdateChannel
from harness.capabilities.updates import UpdateSigning
from harness.capabilities.usb import UsbAttachment

__all__ = [
    "AtPort",
    "BootMedia",
    "Capability",
    "Capture",
    "ConsolePort",
    "FirmwareFiles",
    "LabAddressing",
    "MissingCapability",
    "NetworkLink",
    "Power",
    "HandOver",
    "UpdateChannel",
    "TestCell",
    "UpdateSigning",
    "UsbAttachment",
    "capability_name",
    "config_hint",
]
