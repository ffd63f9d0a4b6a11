"""What the lab does to a cellular device through its test cell: play false base stations, and
build the crafted SMS of FS38-GSM-02 (class 0, silent type 0, port-addressed binary, WAP push
with OMA client provisioning, SIM OTA), each carrying a marker so its effect can be attributed.

Works on any TestCell: the false cells are configurations (a new location area, A5/0 only, no
authentication, identity requests), the evidence is the cell's own events and a silent probe SMS.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.capabilities import TestCell
from harness.cell.model import CellSecurity, MtSms, NetworkIdentity, SmsDelivery
from harness.observations.cell import CellPhase
from harness.util.deadlines import wait_until

LOCATION_UPDATE_WAIT_S = 30.0  # a device that sees a new cell updates within seconds
SETTLE_S = 4.0  # after its location update: accept, TMSI reallocation, release
MONITOR_LAG_S = 1.0  # at most this for the cell's events to catch up (its radio monitor has a thread)
PROBE = MtSms("+10000", b"?", 0x00, pid=0x40, label="silent probe (type 0)")
WAP_PUSH_PORTS = bytes.fromhex("0605040b8423f0")  # UDH: 16-bit ports, to 2948 (WAP push) from 9200
SIM_OTA_HEADER = bytes.fromhex("027000")  # UDH: IEI 0x70, (U)SIM toolkit security header
SMS_LIMIT = 140  # octets of user data + header in one SMS


def marker() -> str:
    return "hs" + secrets.token_hex(4)


@dataclass(frozen=True)
class FalseCell:
    name: str
    network: NetworkIdentity
    security: CellSecurity


def false_cells(genuine: NetworkIdentity) -> list[FalseCell]:
    """The downgrade cell (same network behind it, new LAC, A5/0, no authentication), then the
    IMSI catcher (another new LAC, a network that knows no TMSI and asks for IMSI and IMEI)."""
    return [
        FalseCell(
            "downgrade",
            replace(genuine, lac=genuine.lac + 1),
            CellSecurity(ciphers=(0,), authentication=False),
        ),  # fmt: skip
        FalseCell("IMSI catcher", replace(genuine, lac=genuine.lac + 2), CellSecurity.false_base_station()),
    ]


def _wait_location_update(cell: TestCell, since: float, timeout: float) -> bool:
    def heard() -> bool:
        return any(
            e.kind == "location-updating-request" and e.direction == "uplink" for e in cell.events(since)
        )

    return wait_until(heard, timeout, 0.2)


def run_false_cells(cell: TestCell, imsi: str, *, attach_timeout: float, sms_timeout: float,
                    progress: Callable[[str], None] = lambda line: None) -> list[CellPhase]:  # fmt: skip
    """Genuine attach, then each false cell in turn, then the genuine cell again; the phases seen.

    Each phase's events are cut from the cell's timeline at the end, by the phase's time window:
    the cell's radio monitor may report a message a moment after the network acted on it."""
    genuine_network, genuine_security = cell.network, cell.security
    windows: list[tuple[str, str, float, bool, SmsDelivery | None, bool]] = []
    attached = cell.wait_attached(imsi, attach_timeout)
    windows.append(("genuine", f"{genuine_network.describe()}; {genuine_security.describe()}", 0.0,
                    attached.attached, None, False))  # fmt: skip
    ends: list[float] = []
    if attached.attached:
        try:
            for false in false_cells(genuine_network):
                progress(f"false base station: {false.name} ({false.network.describe()})")
                since = time.time()
                ends.append(since)
                cell.configure(network=false.network, security=false.security)
                if _wait_location_update(cell, since, LOCATION_UPDATE_WAIT_S):
                    time.sleep(SETTLE_S)
                on = cell.wait_attached(imsi, 1.0)
                probe = cell.send_sms(imsi, PROBE, sms_timeout)
                windows.append((false.name, f"{false.network.describe()}; {false.security.describe()}", since,
                                on.attached, probe, True))  # fmt: skip
        finally:
            ends.append(time.time())
            cell.configure(network=genuine_network, security=genuine_security)
            cell.wait_attached(imsi, attach_timeout)
    cell.await_events(MONITOR_LAG_S)
    timeline = cell.events()
    ends.append(float("inf"))
    phases = []
    for (name, described, start, on, probe, false), end in zip(windows, ends, strict=False):
        events = tuple(e for e in timeline if start <= e.when < end)
        phases.append(CellPhase(name, described, events, on, probe, false))
    return phases


# --- crafted SMS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CraftedMessage:
    sms: MtSms
    marker: str
    sender: str
    reaches_application: bool
    authorised: bool = False
    exec_marker: str | None = None


def _oma_cp(proxy: str) -> bytes:
    """A WAP push PDU (WSP, WAP-230) with an OMA client provisioning document (WBXML, OMA-WAP-
    ProvCont) that sets a proxy: the classic "settings by SMS" message. Tokens from the OMA CP
    code page 0 (as Wireshark's WBXML dissector lists them): wap-provisioningdoc 0x05, characteristic
    0x06 with TYPE=PXLOGICAL 0x51, parm 0x07 with NAME=PROXY-ID 0x15 and VALUE= 0x06."""
    body = (
        b"\x03\x0b\x6a\x00"  # WBXML 1.3, public id 0x0B (OMA CP), UTF-8, empty string table
        b"\x45"  # <wap-provisioningdoc> with content
        b"\xc6\x51\x01"  # <characteristic type="PXLOGICAL">
        b"\x87\x15\x06\x03" + proxy.encode() + b"\x00\x01"  # <parm name="PROXY-ID" value=...>
        b"\x01\x01"  # </characteristic></wap-provisioningdoc>
    )
    headers = b"\xb6"  # content type application/vnd.wap.connectivity-wbxml (well-known 0x36)
    return b"\x01\x06" + bytes([len(headers)]) + headers + body  # TID, PDU type push, headers


def _sim_ota(payload: bytes) -> bytes:
    """A 31.115 command packet (secured packet header, no security applied) around `payload`."""
    spi, kic, kid, tar, counter, padding = b"\x00\x00", b"\x00", b"\x00", b"\xb0\x00\x01", bytes(5), b"\x00"
    header = spi + kic + kid + tar + counter + padding
    packet = bytes([len(header)]) + header + payload
    return len(packet).to_bytes(2, "big") + packet


def crafted_messages(command: str, value_template: str, *, authenticated: str | None, secret: str | None,
                     authorised_sender: str | None) -> list[CraftedMessage]:  # fmt: skip
    """The FS38-GSM-02 set; every message carries the configuration command with a fresh marker."""
    stranger = "+49151" + str(secrets.randbelow(10**7)).zfill(7)

    def text(mark: str, value: str | None = None) -> str:
        return command.format(value=value or value_template.format(marker=mark))

    def signed(mark: str) -> str:
        return (authenticated or "").format(value=value_template.format(marker=mark), secret=secret or "")

    messages: list[CraftedMessage] = []

    def add(label: str, body: str | bytes, mark: str, *, dcs: int = 0x00, pid: int = 0x00, udh: bytes = b"",
            sender: str = stranger, who: str = "an unknown sender", app: bool = True, auth: bool = False,
            exec_marker: str | None = None) -> None:  # fmt: skip
        data = body.encode() if isinstance(body, str) else body
        sms = MtSms(sender, data[: SMS_LIMIT - len(udh)], dcs, pid, udh, label)
        messages.append(CraftedMessage(sms, mark, who, app, auth, exec_marker))

    m = marker()
    add("a plain text SMS", text(m), m)
    if authorised_sender:
        m = marker()
        add("a plain text SMS", text(m), m, sender=authorised_sender, who="the spoofed management number")
    m, run = marker(), "hilsec-sms-exec-" + secrets.token_hex(3)
    add("an SMS with a shell command in the value", text(m, f"{value_template.format(marker=m)};touch /tmp/{run}"),
        m, exec_marker=run)  # fmt: skip
    m = marker()
    add("a class-0 (flash) SMS", text(m), m, dcs=0xF4, app=False)
    m = marker()
    add("a silent type-0 SMS", text(m), m, pid=0x40, app=False)
    m = marker()
    add("a binary port-addressed SMS", text(m), m, dcs=0x04, udh=bytes.fromhex("06050413881388"))
    m = marker()
    add("a WAP push with OMA client provisioning", _oma_cp(value_template.format(marker=m)), m, dcs=0xF5,
        udh=WAP_PUSH_PORTS)  # fmt: skip
    m = marker()
    add("a SIM OTA SMS (31.115 command packet)", _sim_ota(text(m).encode()), m, dcs=0xF6, pid=0x7F,
        udh=SIM_OTA_HEADER, app=False)  # fmt: skip
    if authenticated and authorised_sender:
        m = marker()
        add("a class-0 SMS", signed(m), m, dcs=0xF4, sender=authorised_sender,
            who="the management number with the PIN", app=False, auth=True)  # fmt: skip
        m = marker()
        add("a silent type-0 SMS", signed(m), m, pid=0x40, sender=authorised_sender,
            who="the management number with the PIN", app=False, auth=True)  # fmt: skip
    return messages


def genuine_configuration(command_template: str, value_template: str, secret: str | None,
                          sender: str) -> tuple[MtSms, str]:  # fmt: skip
    """The positive control: the authorised command as the maker documents it, and its marker."""
    mark = marker()
    body = command_template.format(value=value_template.format(marker=mark), secret=secret or "")
    return MtSms(sender, body.encode(), 0x00, label="the genuine configuration SMS"), mark
