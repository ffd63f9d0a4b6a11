"""Profiles of widely used cellular modules, from their makers' public AT command manuals.

What a profile gives: the USB identity and which interface is AT, diagnostic (DM/DIAG), NMEA,
PPP, network or ADB (what the USB and debug-interface checks compare against), how to read and
set the radio access technologies the module may use, and the vendor commands the harness reads
(firmware revision, debug ports, ADB) or names (firmware update). None of these profiles was
run against hardware here: each value is from the document named in `manual`, and a value the
public documents do not settle is None, never a guess. Pure data: checks may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GSM, UMTS, LTE, LTE_M, NB_IOT = "gsm", "umts", "lte", "lte-m", "nb-iot"
NOT_RUN_ON_HARDWARE = "not run against hardware here: from the public AT command manual only"


@dataclass(frozen=True)
class UsbLayout:
    vendor_id: int
    product_id: int | None
    interfaces: dict[int, str]  # interface number -> kind id of harness.analysis.usb


@dataclass(frozen=True)
class RatSetting:
    """How the module says which radio access technologies it may use.

    `query` is sent; the answer line starting with `prefix` is split at commas and field `index`
    (after stripping quotes) is looked up in `modes`, the RATs each value allows.
    """

    query: str
    prefix: str
    index: int
    modes: dict[str, frozenset[str]]

    def allowed(self, value: str) -> frozenset[str] | None:
        return self.modes.get(value.strip().strip('"'))


@dataclass(frozen=True)
class VendorCommand:
    command: str
    purpose: str
    reads_only: bool = True  # False: it changes the module (never sent by a test without a reason)


@dataclass(frozen=True)
class ModuleProfile:
    key: str
    vendor: str
    model: str
    manual: str
    radio_access: frozenset[str]  # what the hardware supports at all
    usb: UsbLayout | None
    rat: RatSetting | None
    commands: dict[str, VendorCommand] = field(default_factory=dict)
    note: str = NOT_RUN_ON_HARDWARE


def _modes(**values: tuple[str, ...]) -> dict[str, frozenset[str]]:
    return {key.removeprefix("m"): frozenset(rats) for key, rats in values.items()}


# 3GPP TS 27.007 8.9 (+WS46): the standard answer every 3GPP module should give.
WS46 = RatSetting(
    query="AT+WS46?", prefix="+WS46:", index=0,
    modes=_modes(m12=(GSM,), m22=(UMTS,), m25=(GSM, UMTS, LTE), m28=(LTE,), m29=(GSM, UMTS), m30=(GSM, LTE),
                 m31=(UMTS, LTE)),
)  # fmt: skip

_QUECTEL_USB = {0: "modem-diagnostic", 1: "modem-nmea", 2: "modem-at", 3: "modem-ppp", 4: "modem-network"}

PROFILES: dict[str, ModuleProfile] = {
    "quectel-bg96": ModuleProfile(
        key="quectel-bg96",
        vendor="Quectel",
        model="BG96",
        manual="Quectel BG96 AT Commands Manual V2.3; BG96 Linux USB Driver User Guide",
        radio_access=frozenset({GSM, LTE_M, NB_IOT}),
        usb=UsbLayout(0x2C7C, 0x0296, _QUECTEL_USB),
        rat=RatSetting(
            'AT+QCFG="nwscanmode"',
            "+QCFG:",
            1,
            _modes(m0=(GSM, LTE_M, NB_IOT), m1=(GSM,), m3=(LTE_M, NB_IOT)),
        ),  # fmt: skip
        commands={
            "firmware_revision": VendorCommand("AT+QGMR", "the full firmware revision (the patch level)"),
            "debug_ports": VendorCommand(
                'AT+QCFG="usbcfg"', "which USB functions (DM, NMEA, AT, modem, net) are on"
            ),
            "firmware_update": VendorCommand(
                'AT+QFOTADL="{url}"', "download and install a delta firmware", False
            ),
        },
    ),
    "quectel-eg25-g": ModuleProfile(
        key="quectel-eg25-g",
        vendor="Quectel",
        model="EG25-G",
        manual="Quectel EC2x&EG2x&EG9x&EM05 Series AT Commands Manual V2.0; Quectel USB driver guide",
        radio_access=frozenset({GSM, UMTS, LTE}),
        usb=UsbLayout(0x2C7C, 0x0125, _QUECTEL_USB),
        rat=RatSetting(
            'AT+QCFG="nwscanmode"',
            "+QCFG:",
            1,
            _modes(m0=(GSM, UMTS, LTE), m1=(GSM,), m2=(UMTS,), m3=(LTE,)),
        ),  # fmt: skip
        commands={
            "firmware_revision": VendorCommand("AT+QGMR", "the full firmware revision (the patch level)"),
            "debug_ports": VendorCommand(
                'AT+QCFG="usbcfg"', "USB functions: VID, PID, diag, nmea, at, modem, net, adb, uac"
            ),
            "adb_enable": VendorCommand(
                'AT+QCFG="usbcfg",0x2C7C,0x0125,1,1,1,1,1,1,0', "turns the ADB function on", False
            ),
            "firmware_update": VendorCommand(
                'AT+QFOTADL="{url}"', "download and install a delta firmware", False
            ),
        },
    ),
    "ublox-sara-r5": ModuleProfile(
        key="ublox-sara-r5",
        vendor="u-blox",
        model="SARA-R5",
        manual="u-blox SARA-R5 series AT commands manual (UBX-19047455); SARA-R5 system integration manual",
        radio_access=frozenset({LTE_M}),
        # The USB port is for diagnostics and firmware upgrade; the product ID is not in the public manual.
        usb=UsbLayout(0x1546, None, {}),
        rat=RatSetting("AT+URAT?", "+URAT:", 0, _modes(m7=(LTE_M,), m8=(NB_IOT,))),
        commands={
            "firmware_revision": VendorCommand("ATI9", "the modem and application firmware versions"),
            "firmware_update": VendorCommand(
                "AT+UFWUPD=3", "firmware update over the AT interface (Xmodem)", False
            ),
        },
    ),
    "sierra-hl78xx": ModuleProfile(
        key="sierra-hl78xx",
        vendor="Sierra Wireless",
        model="HL78xx (HL7800, HL7802, HL7812)",
        manual="Sierra Wireless HL78xx AT Commands Interface Guide",
        radio_access=frozenset({LTE_M, NB_IOT, GSM}),  # GSM on HL7802/HL7812 only
        usb=None,  # the public guide documents the UART AT interface; USB is for traces
        rat=RatSetting("AT+KSRAT?", "+KSRAT:", 0, _modes(m0=(LTE_M,), m1=(NB_IOT,), m2=(GSM,))),
        commands={
            "firmware_revision": VendorCommand("ATI3", "the firmware version"),
            "acquisition_order": VendorCommand(
                "AT+KSELACQ?", "the RAT acquisition order (whether GSM is tried)"
            ),
            "firmware_update": VendorCommand("AT+WDSI?", "AirVantage FOTA indications", True),
        },
    ),
    "simcom-sim7600": ModuleProfile(
        key="simcom-sim7600",
        vendor="SIMCom",
        model="SIM7600",
        manual="SIMCom SIM7500_SIM7600 Series AT Command Manual V3.00; SIM7X00 Linux USB user guide",
        radio_access=frozenset({GSM, UMTS, LTE}),
        usb=UsbLayout(
            0x1E0E,
            0x9001,
            {
                0: "modem-diagnostic",
                1: "modem-nmea",
                2: "modem-at",
                3: "modem-ppp",
                4: "audio",
                5: "modem-network",
            },
        ),  # fmt: skip
        rat=RatSetting(
            "AT+CNMP?",
            "+CNMP:",
            0,
            _modes(m2=(GSM, UMTS, LTE), m13=(GSM,), m14=(UMTS,), m38=(LTE,), m51=(GSM, LTE), m54=(UMTS, LTE)),
        ),  # fmt: skip
        commands={
            "firmware_revision": VendorCommand("AT+SIMCOMATI", "module, revision and IMEI"),
            "debug_ports": VendorCommand("AT+CUSBPIDSWITCH?", "the USB composition (PID) in use"),
            "adb_enable": VendorCommand("AT+CUSBADB=1", "turns the ADB function on (after a reset)", False),
            "firmware_update": VendorCommand('AT+CFOTA="{url}"', "FOTA download and install", False),
        },
    ),
    "telit-me910": ModuleProfile(
        key="telit-me910",
        vendor="Telit",
        model="ME910C1",
        manual="Telit ME910C1/ML865C1/NE910C1 AT Commands Reference Guide; Linux option driver bindings (0x1BC7:0x1100)",
        radio_access=frozenset({LTE_M, NB_IOT}),
        # The option driver binds interface 0 without control lines (diagnostic) and reserves 1 and 3.
        usb=UsbLayout(0x1BC7, 0x1100, {0: "modem-diagnostic", 2: "modem-at"}),
        rat=RatSetting(
            "AT#WS46?",
            "#WS46:",
            0,
            _modes(m0=(LTE_M,), m1=(NB_IOT,), m2=(LTE_M, NB_IOT)),
        ),
        commands={
            "firmware_revision": VendorCommand("AT#SWPKGV", "the software package versions"),
            "debug_ports": VendorCommand("AT#USBCFG?", "the USB configuration in use"),
            "firmware_update": VendorCommand("AT#OTAUPW", "firmware update over the AT interface", False),
        },
    ),
    "hilsec-emulated-gsm": ModuleProfile(
        key="hilsec-emulated-gsm",
        vendor="hilsec (an emulation)",
        model="HS-GSM-EMU emulated GSM module",
        manual="harness/emulation/module (the reference device's emulated module; 27.007 +WS46 only)",
        radio_access=frozenset({GSM}),
        usb=None,
        rat=RatSetting("AT+WS46?", "+WS46:", 0, _modes(m12=(GSM,))),
        commands={"firmware_revision": VendorCommand("AT+HGMR", "the emulation's revision")},
        note="an emulation in the harness, not a modem",
    ),
}


def profile(key: str) -> ModuleProfile:
    try:
        return PROFILES[key]
    except KeyError:
        raise KeyError(f"unknown module {key!r}; known: {', '.join(PROFILES)}") from None


def for_usb(vendor_id: int, product_id: int) -> ModuleProfile | None:
    for module in PROFILES.values():
        if module.usb is not None and (module.usb.vendor_id, module.usb.product_id) == (
            vendor_id,
            product_id,
        ):
            return module
    return None
