"""The device as a USB device on the lab host, identified and described by its profile."""

from __future__ import annotations

from harness.capabilities import UsbAttachment
from harness.device.registry import BuildContext, provides


class DeclaredUsb(UsbAttachment):
    def __init__(self, settings) -> None:
        self.vendor_id = int(settings.vendor_id)
        self.product_id = int(settings.product_id)
        self.allowed_kinds = frozenset(settings.allowed_kinds)
        self.declared_interfaces = {int(k): str(v) for k, v in settings.interfaces.items()}
        self.description = f"USB {self.vendor_id:04x}:{self.product_id:04x}"


@provides(UsbAttachment)
def _usb(ctx: BuildContext) -> DeclaredUsb | None:
    usb = ctx.profile.usb
    return DeclaredUsb(usb) if usb is not None else None
