"""What a test cell is told and what it reports, the same for every backend (Osmocom, Amarisoft,
a callbox): network identity, security, subscribers, mobile-terminated SMS with raw TP fields,
delivery outcomes and the events the network saw."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CIPHER_NAMES = {0: "A5/0 (no ciphering)", 1: "A5/1", 2: "A5/2", 3: "A5/3", 4: "A5/4"}


@dataclass(frozen=True)
class NetworkIdentity:
    """The cell's PLMN, location area, cell and radio channel."""

    mcc: str = "001"
    mnc: str = "01"
    lac: int = 1
    cell_id: int = 1
    arfcn: int = 871
    band: str = "DCS1800"
    name: str = "hilsec"

    def __post_init__(self) -> None:
        if not (self.mcc.isdigit() and len(self.mcc) == 3 and self.mnc.isdigit() and len(self.mnc) in (2, 3)):
            raise ValueError(f"MCC {self.mcc!r} / MNC {self.mnc!r}: expected 3 and 2-3 digits")
        if not 1 <= self.lac <= 0xFFFD:
            raise ValueError(f"LAC {self.lac}: expected 1..65533")

    @property
    def plmn(self) -> str:
        return self.mcc + self.mnc

    def describe(self) -> str:
        return f"{self.mcc}-{self.mnc} LAC {self.lac} cell {self.cell_id} ARFCN {self.arfcn}"


@dataclass(frozen=True)
class CellSecurity:
    """What the network does to a mobile station: ciphers offered, authentication, identity
    requests before authentication (IMSI: the network acts as if it never saw the TMSI; IMEI:
    it asks for the IMEISV at the start of location updating)."""

    ciphers: tuple[int, ...] = (1, 3)
    authentication: bool = True
    identity_requests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.ciphers or any(c not in CIPHER_NAMES for c in self.ciphers):
            raise ValueError(f"ciphers {self.ciphers}: expected A5 algorithm numbers 0..4")
        unknown = set(self.identity_requests) - {"imsi", "imei"}
        if unknown:
            raise ValueError(f"identity requests {sorted(unknown)}: expected imsi and/or imei")

    @property
    def ciphering(self) -> bool:
        return any(c != 0 for c in self.ciphers)

    @classmethod
    def false_base_station(cls, *, identity_requests: tuple[str, ...] = ("imsi", "imei")) -> CellSecurity:
        """An IMSI catcher / downgrade cell: A5/0 only, no authentication, identity requests."""
        return cls(ciphers=(0,), authentication=False, identity_requests=identity_requests)

    def describe(self) -> str:
        ciphers = ", ".join(CIPHER_NAMES[c] for c in self.ciphers)
        auth = "authentication required" if self.authentication else "no authentication"
        asks = (
            f", identity requests for {' and '.join(self.identity_requests)}"
            if self.identity_requests
            else ""
        )
        return f"{ciphers}; {auth}{asks}"


@dataclass(frozen=True)
class Subscriber:
    """A SIM the network knows: IMSI, the 2G key and an MSISDN (the key is never reported)."""

    imsi: str
    ki: str = field(repr=False)
    msisdn: str = ""
    algorithm: str = "comp128v1"

    def __post_init__(self) -> None:
        if not (self.imsi.isdigit() and 14 <= len(self.imsi) <= 15):
            raise ValueError(f"IMSI {self.imsi!r}: expected 14-15 digits")
        try:
            if len(bytes.fromhex(self.ki)) != 16:
                raise ValueError
        except ValueError:
            raise ValueError("Ki: expected 32 hexadecimal digits") from None


@dataclass(frozen=True)
class MtSms:
    """A mobile-terminated SMS with its raw TP fields (23.040).

    `user_data` is what the SMSC interface carries: the characters for the GSM 7-bit alphabet
    (the network packs them), UTF-16BE for UCS2, the octets for 8-bit data. `udh` is the whole
    user data header including its length octet (TP-UDHI is set when it is not empty).
    """

    originator: str
    user_data: bytes
    dcs: int = 0x00
    pid: int = 0x00
    udh: bytes = b""
    label: str = ""  # what the test calls this message ("class 0", "SIM OTA"), for reports

    def __post_init__(self) -> None:
        if not 0 <= self.dcs <= 0xFF or not 0 <= self.pid <= 0xFF:
            raise ValueError("DCS and PID are octets (0..255)")
        if self.udh and (self.udh[0] + 1 != len(self.udh)):
            raise ValueError("udh must start with its length octet (UDHL) and be that long")
        if len(self.udh) + len(self.user_data) > 254:
            raise ValueError("user data and header exceed what one SMS carries through the SMSC")

    @property
    def message_class(self) -> int | None:
        if self.dcs & 0xC0 == 0x00 and self.dcs & 0x10:
            return self.dcs & 0x03
        if self.dcs & 0xF0 == 0xF0:
            return self.dcs & 0x03
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "originator": self.originator,
            "dcs": f"0x{self.dcs:02x}",
            "pid": f"0x{self.pid:02x}",
            "udh": self.udh.hex(),
            "user_data_octets": len(self.user_data),
        }


@dataclass(frozen=True)
class SmsDelivery:
    """How a mobile-terminated SMS ended: delivered (the phone acknowledged it), failed, timeout."""

    outcome: str
    seconds: float
    detail: str = ""

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


@dataclass(frozen=True)
class Attachment:
    imsi: str
    attached: bool
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class CellEvent:
    """One thing the network saw or did. `connection` numbers the dedicated channels (one per
    radio connection), so a check can tell what happened before what within one connection."""

    when: float
    kind: str
    direction: str  # "uplink", "downlink" or "network"
    connection: int = 0
    identity: str = ""  # "IMSI 0010...", "TMSI 1a2b3c4d", "IMEISV ..." when the message carries one
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
