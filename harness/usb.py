"""What is attached: serial ports (pyserial) and USB devices (pyusb), debug interfaces flagged.

The classification works on plain descriptor values, so it is tested on descriptors of real
products without the hardware; pyusb only supplies those values when a device is attached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# (class, subclass, protocol) of an interface -> what it is; None matches anything.
_INTERFACE_KINDS: list[tuple[tuple[int | None, int | None, int | None], str, bool]] = [
    ((0xFE, 0x01, None), "DFU (firmware download)", True),
    ((0xFF, 0x42, 0x01), "ADB (Android debug bridge)", True),
    ((0xFF, 0x42, 0x03), "fastboot", True),
    ((0x02, None, None), "CDC communications (serial/modem control)", False),
    ((0x0A, None, None), "CDC data (serial console or modem data)", False),
    ((0x08, None, None), "mass storage", False),
    ((0x03, None, None), "HID", False),
    ((0xE0, None, None), "wireless controller (RNDIS)", False),
]
# Vendor IDs whose products are debug probes; a vendor-specific interface on them is a JTAG/SWD port.
_DEBUG_PROBE_VENDORS = {0x0403: "FTDI (JTAG/UART bridge)", 0x1366: "SEGGER J-Link", 0x0D28: "Arm DAPLink"}
# Cellular module vendors whose vendor-specific interfaces include diagnostic (DM/QXDM-style) ports.
_MODEM_DIAG_VENDORS = {0x05C6: "Qualcomm", 0x2C7C: "Quectel", 0x1E0E: "SIMCom", 0x1199: "Sierra Wireless"}


@dataclass(frozen=True)
class Interface:
    number: int
    cls: int
    subclass: int
    protocol: int
    name: str = ""


@dataclass
class UsbDevice:
    vendor_id: int
    product_id: int
    product: str = ""
    interfaces: list[Interface] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    interface: int
    kind: str
    debug: bool


def classify_interface(device: UsbDevice, intf: Interface) -> Finding:
    """Name one interface and say whether it is a debug or firmware-loading port."""
    if "CMSIS-DAP" in intf.name or "CMSIS-DAP" in device.product:
        return Finding(intf.number, "CMSIS-DAP debug probe (SWD/JTAG)", True)
    for (cls, sub, proto), kind, debug in _INTERFACE_KINDS:
        if cls == intf.cls and sub in (None, intf.subclass) and proto in (None, intf.protocol):
            return Finding(intf.number, kind, debug)
    if intf.cls == 0xFF:
        if device.vendor_id in _DEBUG_PROBE_VENDORS:
            return Finding(intf.number, f"{_DEBUG_PROBE_VENDORS[device.vendor_id]} vendor interface", True)
        if device.vendor_id in _MODEM_DIAG_VENDORS and (intf.subclass, intf.protocol) == (0xFF, 0xFF):
            vendor = _MODEM_DIAG_VENDORS[device.vendor_id]
            return Finding(intf.number, f"{vendor} vendor interface (diagnostic port candidate)", True)
        return Finding(intf.number, "vendor-specific", False)
    return Finding(intf.number, f"class 0x{intf.cls:02x}", False)


def classify(device: UsbDevice) -> list[Finding]:
    return [classify_interface(device, intf) for intf in device.interfaces]


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
    devices = []
    for dev in found:
        product = _string(dev, getattr(dev, "iProduct", 0))
        interfaces = []
        try:
            for cfg in dev:
                for intf in cfg:
                    name = _string(dev, getattr(intf, "iInterface", 0))
                    interfaces.append(
                        Interface(
                            intf.bInterfaceNumber, intf.bInterfaceClass, intf.bInterfaceSubClass,
                            intf.bInterfaceProtocol, name,
                        )  # fmt: skip
                    )
        except usb.core.USBError:
            pass
        devices.append(UsbDevice(dev.idVendor, dev.idProduct, product, interfaces))
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
            lines.append(f"    interface {finding.interface}: {finding.kind}{flag}")
    if not devices:
        lines.append(f"  (none{': ' + problem if problem else ''})")
    return "\n".join(lines)
