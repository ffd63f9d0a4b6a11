"""What is attached: serial ports (pyserial) and USB devices (pyusb), debug interfaces flagged.

The classification (harness.analysis.usb) works on plain descriptor values, so it is
tested on descriptors of real products without the hardware; pyusb only supplies those values
when a device is attached.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.analysis.usb import ClassifiedInterface, Interface, UsbDevice, classify, classify_interface

__all__ = [
    "ClassifiedInterface",
    "Interface",
    "UsbDevice",
    "classify",
    "classify_interface",
    "format_devices",
    "list_usb_devices",
]


def list_usb_devices() -> tuple[list[UsbDevice], str]:
    """Attached USB devices via pyusb, or none with the reason (no backend, no permission)."""
    try:
        import usb.core
        import usb.util
    except ImportError as err:
        return [], f"pyusb not importable: {err}"
    try:
        found = list(usb.core.find(find_all=True) or [])
    except usb.core.NoBackendError:
        return [], "no libusb backend (install the Debian package libusb-1.0-0)"
    except usb.core.USBError as err:
        return [], f"libusb could not list devices: {err}"
    if not found:
        return [], "pyusb found no USB devices (none attached, or /dev/bus/usb not visible here)"
    devices = []
    for dev in found:
        product = _string(dev, getattr(dev, "iProduct", 0))
        manufacturer = _string(dev, getattr(dev, "iManufacturer", 0))
        interfaces = []
        try:
            for cfg in dev:
                for intf in cfg:
                    name = _string(dev, getattr(intf, "iInterface", 0))
                    interfaces.append(
                        Interface(
                            intf.bInterfaceNumber,
                            intf.bInterfaceClass,
                            intf.bInterfaceSubClass,
                            intf.bInterfaceProtocol,
                            name,
                            intf.bAlternateSetting,
                        )  # fmt: skip
                    )
        except usb.core.USBError:
            pass  # configuration unreadable (permissions): the device is still listed, unclassified
        devices.append(UsbDevice(dev.idVendor, dev.idProduct, product, manufacturer, interfaces))
    return devices, ""


def _string(dev: object, index: int) -> str:
    if not index:
        return ""
    try:
        import usb.util

        return str(usb.util.get_string(dev, index) or "")
    except Exception:  # noqa: BLE001 - a string descriptor we may not read is simply unnamed
        return ""


def format_devices(serial_ports: Iterable[object] | None = None) -> str:
    """The text of `hilsec devices`."""
    if serial_ports is None:
        from serial.tools import list_ports

        serial_ports = list_ports.comports()
    lines = ["Serial ports:"]
    ports = list(serial_ports)
    for port in ports:
        usb_id = f" [{port.vid:04x}:{port.pid:04x}]" if getattr(port, "vid", None) else ""
        lines.append(f"  {port.device}  {port.description}{usb_id}")
    if not ports:
        lines.append("  (none)")
    devices, problem = list_usb_devices()
    lines.append("USB devices:")
    for dev in devices:
        lines.append(f"  {dev.vendor_id:04x}:{dev.product_id:04x}  {dev.product or '(unnamed)'}")
        for finding in classify(dev):
            flag = "  DEBUG" if finding.debug else ""
            alternate = f" alt {finding.alternate}" if finding.alternate else ""
            lines.append(f"    interface {finding.interface}{alternate}: {finding.description}{flag}")
    if not devices:
        lines.append(f"  (none: {problem})" if problem else "  (none)")
    return "\n".join(lines)
