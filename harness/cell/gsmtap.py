"""GSMTAP (the Osmocom radio tap, UDP port 4729): the header of every frame on a virtual radio.

osmo-bts-virtual carries its Um interface as GSMTAP over UDP multicast (downlink to one group,
uplink to another), and the cell's radio capture is GSMTAP too, so one codec serves the mobile
station of the emulated module and the cell's evidence decoder. Only type 1 (Um) is used: the
payload is one 23-byte layer-2 block (a RACH carries one RA byte instead).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PORT = 4729
VERSION = 2
HEADER = struct.Struct("!BBBBHbbIBBBB")  # version, hdr_len (32-bit words), type, ts, arfcn, ...
TYPE_UM = 0x01

# Channel types (sub_type), libosmocore gsmtap.h.
BCCH = 0x01
CCCH = 0x02
RACH = 0x03
AGCH = 0x04
PCH = 0x05
SDCCH = 0x06
SDCCH4 = 0x07
SDCCH8 = 0x08
TCH_F = 0x09
ACCH = 0x80  # flag: the slow associated control channel (SACCH) of the channel
ARFCN_UPLINK = 0x4000
ARFCN_MASK = 0x3FFF
# The best signal: osmo-bts-virtual drops a RACH below min-qual-rach (signal 0 got no answer).
BEST_SIGNAL_DBM = 63

CHANNEL_NAMES = {BCCH: "BCCH", CCCH: "CCCH", RACH: "RACH", AGCH: "AGCH", PCH: "PCH", SDCCH: "SDCCH",
                 SDCCH4: "SDCCH/4", SDCCH8: "SDCCH/8", TCH_F: "TCH/F"}  # fmt: skip


@dataclass(frozen=True)
class GsmtapFrame:
    """One GSMTAP Um frame: where it was on the radio, and its layer-2 payload."""

    arfcn: int
    uplink: bool
    timeslot: int
    channel: int  # sub_type without the ACCH flag
    sacch: bool
    subslot: int
    frame_number: int
    signal_dbm: int
    payload: bytes

    @property
    def channel_name(self) -> str:
        name = CHANNEL_NAMES.get(self.channel, f"0x{self.channel:02x}")
        return f"SACCH/{name}" if self.sacch else name

    def to_bytes(self) -> bytes:
        arfcn = (self.arfcn & ARFCN_MASK) | (ARFCN_UPLINK if self.uplink else 0)
        sub_type = self.channel | (ACCH if self.sacch else 0)
        header = HEADER.pack(
            VERSION, HEADER.size // 4, TYPE_UM, self.timeslot, arfcn, self.signal_dbm, 0,
            self.frame_number & 0xFFFFFFFF, sub_type, 0, self.subslot, 0,
        )  # fmt: skip
        return header + self.payload


def parse(datagram: bytes) -> GsmtapFrame | None:
    """The frame in one datagram, or None for anything that is not a GSMTAP Um frame."""
    if len(datagram) < HEADER.size:
        return None
    version, words, kind, ts, arfcn, signal, _snr, fn, sub_type, _ant, subslot, _res = HEADER.unpack_from(
        datagram
    )
    length = words * 4
    if version not in (1, 2) or kind != TYPE_UM or length < HEADER.size or length > len(datagram):
        return None
    return GsmtapFrame(
        arfcn=arfcn & ARFCN_MASK,
        uplink=bool(arfcn & ARFCN_UPLINK),
        timeslot=ts & 0x07,
        channel=sub_type & ~ACCH & 0xFF,
        sacch=bool(sub_type & ACCH),
        subslot=subslot,
        frame_number=fn,
        signal_dbm=signal,
        payload=datagram[length:],
    )


def request_reference(frame_number: int) -> tuple[int, int, int]:
    """(T1', T3, T2) of a TDMA frame number, as an IMMEDIATE ASSIGNMENT's request reference."""
    return (frame_number // (26 * 51)) % 32, frame_number % 51, frame_number % 26
