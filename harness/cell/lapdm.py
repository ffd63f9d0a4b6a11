"""LAPDm (3GPP TS 44.006) frames: the data link layer on a GSM dedicated channel.

pycrate has no LAPDm, so the frame format is written here from the spec. A frame on SDCCH is
23 octets (format B: address, control, length indicator, up to N201 = 20 information octets,
fill octets 0x2B); on SACCH a 2-octet layer-1 header comes first and N201 is 18. The receiving
side is lenient (fill and short frames are fine); a frame that does not parse is None.

C/R bit (44.006 table 3): the network sends commands with C/R = 1, the mobile station with
C/R = 0; responses the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

FRAME_SDCCH = 23
N201_SDCCH = 20
FILL = 0x2B

# Control field values with P/F cleared.
SABM = 0x2F
UA = 0x63
DISC = 0x43
DM = 0x0F
UI = 0x03
PF = 0x10
RR, RNR, REJ = 0, 1, 2  # supervisory function bits


@dataclass(frozen=True)
class Frame:
    """One LAPDm frame. `kind` is I, S (with `function`) or U (with `command`: SABM, UA, ...)."""

    sapi: int
    cr: int
    kind: str
    poll: bool = False
    ns: int = 0
    nr: int = 0
    function: int = RR
    command: int = 0
    more: bool = False
    info: bytes = b""

    @property
    def name(self) -> str:
        if self.kind == "I":
            return f"I(ns={self.ns},nr={self.nr}{',M' if self.more else ''})"
        if self.kind == "S":
            return f"{('RR', 'RNR', 'REJ', 'S?')[self.function]}(nr={self.nr})"
        names = {SABM: "SABM", UA: "UA", DISC: "DISC", DM: "DM", UI: "UI"}
        return names.get(self.command, f"U(0x{self.command:02x})")


def parse(block: bytes) -> Frame | None:
    """A format A/B frame (SDCCH, or SACCH after its layer-1 header), or None."""
    if len(block) < 3:
        return None
    address, control, length = block[0], block[1], block[2]
    if not address & 0x01 or not length & 0x01:  # EA and EL must end their fields
        return None
    sapi, cr = (address >> 2) & 0x07, (address >> 1) & 0x01
    size, more = length >> 2, bool(length & 0x02)
    info = block[3 : 3 + size]
    if len(info) < size:
        return None
    if not control & 0x01:
        return Frame(sapi, cr, "I", bool(control & PF), ns=(control >> 1) & 7, nr=control >> 5,
                     more=more, info=info)  # fmt: skip
    if control & 0x03 == 0x01:
        return Frame(sapi, cr, "S", bool(control & PF), nr=control >> 5, function=(control >> 2) & 3)
    return Frame(sapi, cr, "U", bool(control & PF), command=control & ~PF & 0xFF, info=info)


def build(frame: Frame, size: int = FRAME_SDCCH) -> bytes:
    """The octets of `frame`, padded with fill octets to `size`."""
    address = (frame.sapi << 2) | (frame.cr << 1) | 0x01
    pf = PF if frame.poll else 0
    if frame.kind == "I":
        control = (frame.nr << 5) | pf | (frame.ns << 1)
    elif frame.kind == "S":
        control = (frame.nr << 5) | pf | (frame.function << 2) | 0x01
    else:
        control = frame.command | pf
    if len(frame.info) > size - 3:
        raise ValueError(f"LAPDm information field of {len(frame.info)} octets exceeds {size - 3}")
    length = (len(frame.info) << 2) | (0x02 if frame.more else 0) | 0x01
    body = bytes((address, control, length)) + frame.info
    return body + bytes([FILL]) * (size - len(body))


def segments(message: bytes, n201: int = N201_SDCCH) -> list[tuple[bytes, bool]]:
    """A layer-3 message cut into information fields of at most n201 octets, with the M bit."""
    parts = [message[i : i + n201] for i in range(0, len(message), n201)] or [b""]
    return [(part, index < len(parts) - 1) for index, part in enumerate(parts)]
