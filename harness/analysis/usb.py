"""USB descriptors as the lab host reads them, and what each interface is (a DFU, ADB, diagnostic
port, serial console, ...).

The classification works on plain descriptor values (vendor/product IDs, interface class,
subclass, protocol, the interface string), so it is tested on the descriptors of real products
without the hardware; pyusb (harness.drivers.usb.list_usb_devices) supplies them when a device is
attached, and harness.checks.usb_interfaces judges them against the profile. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InterfaceKind:
    """A USB function, by a stable id a profile can list (`allowed_kinds`), and what it gives."""

    id: str
    description: str
    debug: bool


_KINDS = (
    InterfaceKind("dfu", "DFU firmware download", True),
    InterfaceKind("adb", "ADB (Android debug bridge)", True),
    InterfaceKind("fastboot", "fastboot (Android bootloader flashing)", True),
    InterfaceKind("modem-diagnostic", "cellular module diagnostic port (DM/DIAG)", True),
    InterfaceKind("debug-probe", "JTAG/SWD debug probe interface", True),
    InterfaceKind("serial-console", "CDC ACM serial port (console or AT commands)", False),
    InterfaceKind("usb-serial-bridge", "USB-to-UART bridge (serial console)", False),
    InterfaceKind("modem-at", "cellular module AT command port", False),
    InterfaceKind("modem-nmea", "cellular module GNSS NMEA port", False),
    InterfaceKind("modem-ppp", "cellular module PPP/data modem port", False),
    InterfaceKind("modem-network", "cellular module network interface (QMI/RmNet)", False),
    InterfaceKind("network", "USB network function (ECM/NCM/MBIM/RNDIS)", False),
    InterfaceKind("mass-storage", "mass storage", False),
    InterfaceKind("mtp", "MTP/PTP media transfer", False),
    InterfaceKind("hid", "HID (keyboard, mouse, generic HID)", False),
    InterfaceKind("audio", "audio", False),
    InterfaceKind("video", "video", False),
    InterfaceKind("hub", "USB hub", False),
    InterfaceKind("cdc-data", "CDC data (belongs to the CDC control interface before it)", False),
    InterfaceKind("vendor-specific", "vendor-specific interface of unknown purpose", False),
    InterfaceKind("other", "other USB class", False),
)
KINDS: dict[str, InterfaceKind] = {kind.id: kind for kind in _KINDS}
DEBUG_KINDS = frozenset(kind.id for kind in _KINDS if kind.debug)
# A CDC data interface carries the bytes of the control interface before it: judged through that one.
COMPANION_KINDS = frozenset({"cdc-data"})

# (class, subclass, protocol) -> kind id; None matches anything. The first match wins.
CLASS_TABLE: tuple[tuple[tuple[int | None, int | None, int | None], str], ...] = (
    ((0xFE, 0x01, None), "dfu"),  # application-specific class, DFU subclass (USB DFU 1.1)
    ((0xFF, 0x42, 0x01), "adb"),  # the ADB interface Android's adbd presents
    ((0xFF, 0x42, 0x03), "fastboot"),
    ((0x02, 0x02, None), "serial-console"),  # CDC ACM
    ((0x02, 0x06, None), "network"),  # CDC ECM
    ((0x02, 0x0D, None), "network"),  # CDC NCM
    ((0x02, 0x0E, None), "network"),  # CDC MBIM
    ((0xE0, 0x01, 0x03), "network"),  # RNDIS
    ((0xEF, 0x04, 0x01), "network"),  # RNDIS over the miscellaneous class
    ((0x0A, None, None), "cdc-data"),
    ((0x08, None, None), "mass-storage"),
    ((0x06, 0x01, 0x01), "mtp"),  # still image class, as MTP devices present themselves
    ((0x03, None, None), "hid"),
    ((0x01, None, None), "audio"),
    ((0x0E, None, None), "video"),
    ((0x09, None, None), "hub"),
)

# Vendors of debug probes: their vendor-specific interfaces are the JTAG/SWD engine.
DEBUG_PROBE_VENDORS: dict[int, str] = {0x1366: "SEGGER J-Link", 0x0D28: "Arm DAPLink", 0xC251: "Keil ULINK"}
# (vendor, product) of probes from vendors that also make other things.
DEBUG_PROBE_PRODUCTS: dict[tuple[int, int], str] = {
    (0x0483, 0x3748): "ST-LINK/V2",
    (0x0483, 0x374B): "ST-LINK/V2-1",
    (0x0483, 0x374E): "STLINK-V3",
    (0x0483, 0x374F): "STLINK-V3",
    (0x0483, 0x3752): "ST-LINK/V2-1",
    (0x0483, 0x3753): "STLINK-V3",
    # FTDI chips with an MPSSE engine drive JTAG/SWD (OpenOCD's ft2232 family); the UART-only FT232R
    # (0x6001) and FT230X (0x6015) are serial bridges.
    (0x0403, 0x6010): "FTDI FT2232H/D (MPSSE: JTAG/SWD capable)",
    (0x0403, 0x6011): "FTDI FT4232H (MPSSE: JTAG/SWD capable)",
    (0x0403, 0x6014): "FTDI FT232H (MPSSE: JTAG/SWD capable)",
}
USB_SERIAL_BRIDGE_VENDORS: dict[int, str] = {
    0x0403: "FTDI",
    0x10C4: "Silicon Labs CP210x",
    0x1A86: "WCH CH34x",
    0x067B: "Prolific PL2303",
}
# Cellular module vendors. Their vendor-specific ff/ff/ff interface 0 is, by the layout Qualcomm-
# based modules share, the DM/DIAG port; ff/ff/30 is the later Qualcomm code for DIAG.
MODEM_VENDORS: dict[int, str] = {
    0x05C6: "Qualcomm",
    0x2C7C: "Quectel",
    0x1E0E: "SIMCom",
    0x1199: "Sierra Wireless",
}
# Interface numbers of modules whose layout is known (as Linux's option / qmi_wwan drivers bind them).
MODEM_LAYOUTS: dict[tuple[int, int], dict[int, str]] = {
    # Quectel EC25/EC21/EG25-G and BG96: DM, NMEA, AT, modem, QMI
    (0x2C7C, 0x0125): {
        0: "modem-diagnostic",
        1: "modem-nmea",
        2: "modem-at",
        3: "modem-ppp",
        4: "modem-network",
    },
    (0x2C7C, 0x0121): {
        0: "modem-diagnostic",
        1: "modem-nmea",
        2: "modem-at",
        3: "modem-ppp",
        4: "modem-network",
    },
    (0x2C7C, 0x0296): {
        0: "modem-diagnostic",
        1: "modem-nmea",
        2: "modem-at",
        3: "modem-ppp",
        4: "modem-network",
    },
    # SIMCom SIM7600: DIAG, NMEA, AT, modem, audio, QMI
    (0x1E0E, 0x9001): {
        0: "modem-diagnostic",
        1: "modem-nmea",
        2: "modem-at",
        3: "modem-ppp",
        5: "modem-network",
    },
}


@dataclass(frozen=True)
class Interface:
    """One interface (alternate setting) as its descriptor states it."""

    number: int
    cls: int
    subclass: int
    protocol: int
    name: str = ""
    alternate: int = 0


@dataclass
class UsbDevice:
    vendor_id: int
    product_id: int
    product: str = ""
    manufacturer: str = ""
    interfaces: list[Interface] = field(default_factory=list)

    @property
    def usb_id(self) -> str:
        return f"{self.vendor_id:04x}:{self.product_id:04x}"


@dataclass(frozen=True)
class ClassifiedInterface:
    """What one interface is. `kind` is the id (see KINDS); `detail` says how it was recognised."""

    interface: int
    kind: str
    detail: str = ""
    alternate: int = 0

    @property
    def debug(self) -> bool:
        return self.kind in DEBUG_KINDS

    @property
    def description(self) -> str:
        text = KINDS[self.kind].description
        return f"{text} ({self.detail})" if self.detail else text


def classify_interface(
    device: UsbDevice, intf: Interface, declared: Mapping[int, str] | None = None
) -> ClassifiedInterface:
    """Name one interface; product knowledge first, then the class codes, then vendor hints.

    `declared` is the maker's word (profile usb.interfaces) for vendor-specific interfaces the
    harness cannot name otherwise; it never overrides a standard class (a DFU interface stays DFU).
    """

    def found(kind: str, detail: str = "") -> ClassifiedInterface:
        return ClassifiedInterface(intf.number, kind, detail, intf.alternate)

    if "CMSIS-DAP" in intf.name or ("CMSIS-DAP" in device.product and intf.cls in (0x03, 0xFF)):
        return found("debug-probe", "CMSIS-DAP")
    layout = MODEM_LAYOUTS.get((device.vendor_id, device.product_id))
    if layout and intf.cls == 0xFF and intf.number in layout:
        return found(
            layout[intf.number], f"{MODEM_VENDORS.get(device.vendor_id, 'module')} {device.usb_id} layout"
        )
    if intf.cls == 0xFF and declared and intf.number in declared:
        return found(declared[intf.number], "as the maker declares it")
    for (cls, sub, proto), kind in CLASS_TABLE:
        if cls == intf.cls and sub in (None, intf.subclass) and proto in (None, intf.protocol):
            return found(kind)
    if intf.cls != 0xFF:
        return found("other", f"class 0x{intf.cls:02x}")
    probe = DEBUG_PROBE_PRODUCTS.get((device.vendor_id, device.product_id)) or DEBUG_PROBE_VENDORS.get(
        device.vendor_id
    )
    if probe:
        return found("debug-probe", probe)
    if device.vendor_id in USB_SERIAL_BRIDGE_VENDORS:
        return found("usb-serial-bridge", USB_SERIAL_BRIDGE_VENDORS[device.vendor_id])
    if device.vendor_id in MODEM_VENDORS and intf.subclass == 0xFF:
        vendor = MODEM_VENDORS[device.vendor_id]
        if intf.protocol == 0x30 or (intf.protocol == 0xFF and intf.number == 0):
            return found("modem-diagnostic", f"{vendor} vendor interface, DIAG by layout")
    return found("vendor-specific", f"ff/{intf.subclass:02x}/{intf.protocol:02x}")


def classify(device: UsbDevice, declared: Mapping[int, str] | None = None) -> list[ClassifiedInterface]:
    """Every interface of the device, alternate settings of DFU included."""
    return [classify_interface(device, intf, declared) for intf in device.interfaces]
