"""UsbAttachment: the device as a USB device on the lab host, with the functions its maker declares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.analysis.usb import UsbDevice


class UsbAttachment(Protocol):
    NAME = "USB attachment"
    CONFIG = "profile: usb (vendor_id, product_id, allowed_kinds)"

    description: str
    vendor_id: int
    product_id: int
    allowed_kinds: frozenset[str]
    declared_interfaces: dict[int, str]  # interface number -> kind, as the maker declares

    def attached(self) -> tuple[list[UsbDevice], str]:
        """The USB devices the lab host sees now, or none and the reason (no backend, no permission)."""
        ...
