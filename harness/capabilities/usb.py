"""UsbAttachment: the device as a USB device on the lab host, with the functions its maker declares."""

from __future__ import annotations

from typing import Protocol


class UsbAttachment(Protocol):
    NAME = "USB attachment"
    CONFIG = "profile: usb (vendor_id, product_id, allowed_kinds)"

    description: str
    vendor_id: int
    product_id: int
    allowed_kinds: frozenset[str]
    declared_interfaces: dict[int, str]  # interface number -> kind, as the maker declares
