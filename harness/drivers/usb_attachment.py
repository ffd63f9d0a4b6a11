"""The device as a USB device on the lab host, identified and described by its profile.

Vendor-specific interfaces are named by the maker (profile `usb.interfaces`); where the profile
names none and the VID:PID is a cellular module hilsec knows (harness/modems/profiles.py), the
layout its public manual gives is used, so a module's diagnostic port is judged as one.
"""

from __future__ import annotations

from harness.analysis.usb import UsbDevice
from harness.capabilities import UsbAttachment
from harness.device.registry import BuildContext, provides
from harness.drivers.usb import list_usb_devices
from harness.modems.profiles import for_usb


class DeclaredUsb(UsbAttachment):
    def __init__(self, settings) -> None:
        self.vendor_id = int(settings.vendor_id)
        self.product_id = int(settings.product_id)
        self.allowed_kinds = frozenset(settings.allowed_kinds)
        self.declared_interfaces = {int(k): str(v) for k, v in settings.interfaces.items()}
        self.description = f"USB {self.vendor_id:04x}:{self.product_id:04x}"
        module = for_usb(self.vendor_id, self.product_id)
        if not self.declared_interfaces and module is not None and module.usb is not None:
            self.declared_interfaces = dict(module.usb.interfaces)
            self.description += f" ({module.vendor} {module.model}: interfaces as its manual gives them)"

    def attached(self) -> tuple[list[UsbDevice], str]:
        """What pyusb sees on the lab host."""
        return list_usb_devices()


@provides(UsbAttachment)
def _usb(ctx: BuildContext) -> DeclaredUsb | None:
    usb = ctx.profile.usb
    return DeclaredUsb(usb) if usb is not None else None
