"""GSM layer 3 on the radio: decoding and encoding with pycrate (RR 44.018, MM 24.008, SMS 24.011 /
23.040), for the emulated module's mobile station and the cell's radio-side evidence.

Everything decoded here came over the air, so a message that does not parse is simply None
(the caller records it as undecodable), never an exception. The per-protocol pycrate modules
are imported rather than pycrate_mobile.NAS, which pulls in LTE and 5G and prints a warning.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pycrate_core import elt
from pycrate_mobile import TS23040_SMS as TP
from pycrate_mobile import TS24008_IE as IE
from pycrate_mobile import TS24008_MM as MM
from pycrate_mobile import TS24011_PPSMS as PP
from pycrate_mobile import TS44018_RR as RR

log = logging.getLogger(__name__)

PD_CC, PD_MM, PD_RR, PD_SMS = 3, 5, 6, 9
PROTOCOLS = {PD_CC: "CC", PD_MM: "MM", PD_RR: "RR", PD_SMS: "SMS"}
# Identity types (24.008 10.5.1.4)
IMSI, IMEI, IMEISV, TMSI = IE.IDTYPE_IMSI, IE.IDTYPE_IMEI, IE.IDTYPE_IMEISV, IE.IDTYPE_TMSI
IDENTITY_NAMES = {IMSI: "IMSI", IMEI: "IMEI", IMEISV: "IMEISV", TMSI: "TMSI"}
_DOWNLINK = {PD_MM: MM.MMTypeClasses, PD_RR: RR.RRTypeMTClasses, PD_SMS: PP.PPSMSCPTypeClasses}
_UPLINK = {PD_MM: MM.MMTypeClasses, PD_RR: RR.RRTypeMOClasses, PD_SMS: PP.PPSMSCPTypeClasses}
# RR message types on the BCCH and CCCH (44.018 10.4), read before anything is decoded
SYSTEM_INFORMATION_3 = 0x1B
PAGING_REQUESTS = (0x21, 0x22, 0x24)  # types 1, 2 and 3
IMMEDIATE_ASSIGNMENT, IMMEDIATE_ASSIGNMENT_REJECT = 0x3F, 0x3A
COMMON_DECODE_CACHE = 256


@dataclass(frozen=True)
class Message:
    """One decoded layer-3 message: protocol, spec name, the pycrate element and the octets."""

    protocol: str
    name: str
    element: Any
    raw: bytes

    def field(self, name: str, default: Any = None) -> Any:
        return field(self.element, name, default)

    def __str__(self) -> str:
        return f"{self.protocol} {self.name}"


def walk(element: Any) -> Iterator[Any]:
    """Every element below `element` that is present (absent optional IEs are transparent)."""
    if element.get_trans():
        return
    yield element
    if isinstance(element, elt.Alt):
        yield from walk(element.get_alt())
    elif isinstance(element, (elt.Envelope, elt.Sequence, elt.Array)):
        for child in element._content:
            yield from walk(child)


def field(element: Any, name: str, default: Any = None) -> Any:
    """The value of the first present atom called `name` (depth first); failing that the first
    structured element of that name; else `default`."""
    structured = None
    for found in walk(element):
        if found._name != name or found is element:
            continue
        if isinstance(found, elt.Atom):
            return found.get_val()
        if structured is None:
            structured = found
    return default if structured is None else structured


def _type_name(message: Any, header: str) -> str:
    kind = message[header]["Type"]
    names = getattr(kind, "_dic", None) or {}
    value = kind.get_val()
    return str(names.get(value, value)).split(" - ")[-1]


def decode(octets: bytes, *, uplink: bool, pseudo_length: bool = False) -> Message | None:
    """A downlink or uplink L3 message (RR on BCCH/CCCH has an L2 pseudo length), or None."""
    offset = 1 if pseudo_length else 0
    if len(octets) < offset + 2:
        return None
    pd, kind = octets[offset] & 0x0F, octets[offset + 1]
    if pd in (PD_MM, PD_CC):
        kind &= 0x3F  # N(SD) in bits 7-8
    classes = (_UPLINK if uplink else _DOWNLINK).get(pd)
    if classes is None or kind not in classes:
        return None
    message = classes[kind]()
    try:
        message.from_bytes(octets)
    except Exception:  # noqa: BLE001 - a malformed frame from the radio is data, not a harness error
        return None
    header = {PD_MM: "MMHeader", PD_RR: "RRHeaderUL" if uplink else "RRHeader", PD_SMS: "CPHeader"}[pd]
    try:
        name = _type_name(message, header)
    except Exception:  # noqa: BLE001
        name = f"type 0x{kind:02x}"
    return Message(PROTOCOLS[pd], name, message, bytes(octets))


def common_channel_type(block: bytes) -> int | None:
    """The RR message type of a BCCH/CCCH block (after its L2 pseudo length), None if not RR."""
    if len(block) < 3 or block[1] & 0x0F != PD_RR:
        return None
    return block[2]


@functools.lru_cache(maxsize=COMMON_DECODE_CACHE)
def decode_common(block: bytes) -> Message | None:
    """A BCCH/CCCH block, decoded once: the BTS repeats the same System Information and paging
    blocks many times a second, pycrate takes milliseconds for each, and a station that falls
    behind the radio misses its paging. Callers only read the cached Message."""
    return decode(bytes(block), uplink=False, pseudo_length=True)


def identity(octets: bytes) -> tuple[str, str] | None:
    """('IMSI'|'IMEI'|'IMEISV'|'TMSI', digits or hex) of a Mobile Identity value, or None."""
    ident = IE.ID()
    try:
        ident.from_bytes(octets)
        kind, value = ident.decode()
    except Exception:  # noqa: BLE001
        return None
    if kind == TMSI:
        return "TMSI", f"{int(value):08x}"
    if kind not in IDENTITY_NAMES:
        return None  # "no identity" (empty paging slots) and reserved types
    return IDENTITY_NAMES.get(kind, str(kind)), str(value)


def location_area(message: Message) -> tuple[str, int] | None:
    """(MCC+MNC, LAC) of the first LAI a message carries (SI3, LU request, LU accept), or None."""
    for found in walk(message.element):
        if found._name == "LAI" and hasattr(found, "decode") and isinstance(found, elt.Envelope):
            try:
                plmn, lac = found.decode()
                return str(plmn), int(lac)
            except Exception:  # noqa: BLE001
                return None
    return None


def message_identity(message: Message) -> tuple[str, str] | None:
    """The Mobile Identity a message carries (LU request, identity response, paging response)."""
    for found in walk(message.element):
        if isinstance(found, IE.ID):
            return identity(found.to_bytes())
    return None


# --- encoders for what a mobile station sends (pycrate messages) --------------------------------


def _mobile_identity(kind: int, value: str) -> dict[str, Any]:
    return {"type": kind, "ident": int(value, 16) if kind == TMSI else value}


def _set_octets(message: Any, name: str, octets: bytes) -> None:
    """Set a V or LV IE (a classmark) from its octets; pycrate fills in the length."""
    message[name]["V"].from_bytes(octets)


def _with_sequence(message: Any, sequence: int) -> bytes:
    message["MMHeader"]["Seqn"].set_val(sequence & 0x03)
    return message.to_bytes()


def location_updating_request(*, sequence: int, cksn: int, update_type: int, mcc_mnc: str, lac: int,
                              classmark1: int, kind: int, value: str) -> bytes:  # fmt: skip
    """LOCATION UPDATING REQUEST (24.008 9.2.15) with the stored LAI and a TMSI or the IMSI."""
    message = MM.MMLocationUpdatingRequest(
        val={
            "CKSN": cksn,
            "LocUpdateType": {"Type": update_type},
            "LAI": {"PLMN": mcc_mnc, "LAC": lac},
            "ID": _mobile_identity(kind, value),
        }  # fmt: skip
    )
    _set_octets(message, "MSCm1", bytes([classmark1]))
    return _with_sequence(message, sequence)


def identity_response(*, sequence: int, kind: int, value: str) -> bytes:
    return _with_sequence(MM.MMIdentityResponse(val={"ID": _mobile_identity(kind, value)}), sequence)


def authentication_response(*, sequence: int, sres: bytes) -> bytes:
    return _with_sequence(MM.MMAuthenticationResponse(val={"RES": sres}), sequence)


def tmsi_reallocation_complete(*, sequence: int) -> bytes:
    return _with_sequence(MM.MMTMSIReallocationComplete(), sequence)


def ciphering_mode_complete(imeisv: str | None = None) -> bytes:
    """CIPHERING MODE COMPLETE (44.018 9.1.10), with the IMEISV when the network asked for it."""
    if imeisv is None:
        return RR.RRCipheringModeComplete().to_bytes()
    return RR.RRCipheringModeComplete(val={"MEId": _mobile_identity(IMEISV, imeisv)}).to_bytes()


def paging_response(*, cksn: int, classmark2: bytes, kind: int, value: str) -> bytes:
    message = RR.RRPagingResponse(val={"CKSN": cksn, "ID": _mobile_identity(kind, value)})
    _set_octets(message, "MSCm2", classmark2)
    return message.to_bytes()


def cp_ack(transaction: int) -> bytes:
    """CP-ACK (24.011 7.2.2) for a network-initiated transaction (TI flag 1: the MS answers)."""
    return bytes([0x80 | (transaction & 0x07) << 4 | PD_SMS, 0x04])


def cp_data(transaction: int, rp: bytes) -> bytes:
    return bytes([0x80 | (transaction & 0x07) << 4 | PD_SMS, 0x01, len(rp)]) + rp


def rp_ack(reference: int) -> bytes:
    """RP-ACK ms->n (24.011 7.3.3), without RP-User data."""
    return bytes([0x02, reference & 0xFF])


def rp_error(reference: int, cause: int) -> bytes:
    """RP-ERROR ms->n with an RP-Cause (e.g. 22 memory capacity exceeded, 111 protocol error)."""
    return bytes([0x04, reference & 0xFF, 0x01, cause & 0x7F])


# --- SMS inside CP-DATA --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tpdu:
    """The fields of an SMS-DELIVER (23.040 9.2.2.1) a test and the module look at."""

    originator: str
    pid: int
    dcs: int
    udhi: bool
    udh: bytes
    user_data: bytes  # after the UDH; septets unpacked to text octets for the 7-bit alphabet
    text: str | None
    raw: bytes

    @property
    def message_class(self) -> int | None:
        """0-3 from a DCS that carries a class (general group with bit 4, or group 0xF), else None."""
        if self.dcs & 0xC0 == 0x00 and self.dcs & 0x10:
            return self.dcs & 0x03
        if self.dcs & 0xF0 == 0xF0:
            return self.dcs & 0x03
        return None

    @property
    def silent(self) -> bool:
        """Type 0 short message (PID 0x40): acknowledged and discarded (23.040 9.2.3.9)."""
        return self.pid == 0x40

    @property
    def alphabet(self) -> str:
        group = self.dcs & 0xF0
        if group == 0xF0:
            return "8bit" if self.dcs & 0x04 else "gsm7"
        if self.dcs & 0xC0 == 0x00:
            return {0: "gsm7", 1: "8bit", 2: "ucs2"}.get((self.dcs >> 2) & 0x03, "reserved")
        return "8bit"


@dataclass(frozen=True)
class RpData:
    reference: int
    originator_sc: str
    tpdu: bytes


def rp_data(cp_user_data: bytes) -> RpData | None:
    """RP-DATA n->ms (24.011 7.3.1.1) inside a CP-DATA, or None. Four length-prefixed parts:
    MTI, message reference, originator (SC) address, empty destination address, user data."""
    data = cp_user_data
    if len(data) < 4 or data[0] & 0x07 != 0x01:
        return None
    reference, at = data[1], 2
    parts = []
    for _ in range(3):
        if at >= len(data) or at + 1 + data[at] > len(data):
            return None
        parts.append(data[at + 1 : at + 1 + data[at]])
        at += 1 + data[at]
    originator, _destination, tpdu = parts
    return RpData(reference, _bcd(originator[1:]) if originator else "", tpdu)


def _bcd(octets: bytes) -> str:
    digits = []
    for octet in octets:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble <= 9:
                digits.append(str(nibble))
    return "".join(digits)


def sms_deliver(tpdu: bytes) -> Tpdu | None:
    """The fields of an SMS-DELIVER TPDU, or None when it is not one or does not parse."""
    if not tpdu or tpdu[0] & 0x03 != 0x00:
        return None
    message = TP.SMS_DELIVER()
    try:
        message.from_bytes(tpdu)
        originator = str(message["TP_OA"]["Num"].decode())
        pid = message["TP_PID"].to_bytes()[0]
        dcs = message["TP_DCS"].to_bytes()[0]
        udhi = bool(message["TP_UDHI"].get_val())
        udh = message["TP_UD"]["UDH"].to_bytes() if udhi else b""
        body = message["TP_UD"]["UD"]
        octets = body.get_val()
    except Exception:  # noqa: BLE001 - a malformed TPDU from the radio is data
        return None
    if not isinstance(octets, bytes):
        octets = str(octets).encode()
    partial = Tpdu(originator, pid, dcs, udhi, udh, octets, None, bytes(tpdu))
    text = None
    if partial.alphabet in ("gsm7", "ucs2"):
        try:
            decoded = body.decode()
            text = decoded if isinstance(decoded, str) else None
        except Exception:  # noqa: BLE001
            text = None
    return Tpdu(originator, pid, dcs, udhi, udh, octets, text, bytes(tpdu))
