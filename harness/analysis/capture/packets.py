"""Link, IP and transport headers down to the TCP/UDP payload, with ``struct``-free byte math.

Returns plain tuples (no objects per packet) because this runs for every packet of captures with
hundreds of thousands of them.
"""

from __future__ import annotations

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_BSD = 12
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

TCP = 6
UDP = 17
_VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
_IPV6_EXTENSIONS = (0, 43, 60, 51)  # hop-by-hop, routing, destination options, AH
_IPV6_FRAGMENT = 44
MAX_FRAGMENT_FLOWS = 1024

# (protocol, src, sport, dst, dport, payload, length, tcp_flags, tcp_seq, continuation)
Segment = tuple[int, bytes, int, bytes, int, bytes, int, int, int, bool]

TCP_SYN = 0x02
TCP_ACK = 0x10


class PacketDecoder:
    """Decodes frames to transport segments. Remembers the ports of fragmented datagrams so
    later IP fragments (which carry no transport header) are attributed to their flow."""

    def __init__(self) -> None:
        self._fragments: dict[tuple, tuple[int, int]] = {}

    def network_offset(self, linktype: int, frame: bytes) -> tuple[int, int] | None:
        """(offset of the IP header, ethertype) for a frame, or None if not IP."""
        if linktype == LINKTYPE_ETHERNET:
            if len(frame) < 14:
                return None
            ethertype = (frame[12] << 8) | frame[13]
            offset = 14
            while ethertype in _VLAN_TYPES and len(frame) >= offset + 4:
                ethertype = (frame[offset + 2] << 8) | frame[offset + 3]
                offset += 4
            return offset, ethertype
        if linktype == LINKTYPE_LINUX_SLL:
            if len(frame) < 16:
                return None
            return 16, (frame[14] << 8) | frame[15]
        if linktype == LINKTYPE_LINUX_SLL2:
            if len(frame) < 20:
                return None
            return 20, (frame[0] << 8) | frame[1]
        if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_BSD, LINKTYPE_IPV4, LINKTYPE_IPV6):
            if not frame:
                return None
            return 0, 0x0800 if frame[0] >> 4 == 4 else 0x86DD
        if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
            if len(frame) < 5:
                return None
            return 4, 0x0800 if frame[4] >> 4 == 4 else 0x86DD
        return None

    def decode(self, linktype: int, frame: bytes) -> Segment | None:
        """The TCP/UDP segment a frame carries, or None (not IP, not TCP/UDP, too short)."""
        found = self.network_offset(linktype, frame)
        if found is None:
            return None
        offset, ethertype = found
        if ethertype == 0x0800:
            return self._ipv4(frame, offset)
        if ethertype == 0x86DD:
            return self._ipv6(frame, offset)
        return None

    def _ipv4(self, frame: bytes, offset: int) -> Segment | None:
        if len(frame) < offset + 20 or frame[offset] >> 4 != 4:
            return None
        header_len = (frame[offset] & 0x0F) * 4
        total = (frame[offset + 2] << 8) | frame[offset + 3]
        protocol = frame[offset + 9]
        if protocol != TCP and protocol != UDP:
            return None
        src = frame[offset + 12 : offset + 16]
        dst = frame[offset + 16 : offset + 20]
        flags_frag = (frame[offset + 6] << 8) | frame[offset + 7]
        end = offset + total if total >= header_len else len(frame)
        start = offset + header_len
        if flags_frag & 0x3FFF:  # more fragments, or a non-zero offset
            ident = (src, dst, frame[offset + 4 : offset + 6], protocol)
            return self._fragment(
                ident, protocol, src, dst, frame, start, end, flags_frag & 0x1FFF, flags_frag & 0x2000
            )
        return _transport(protocol, src, dst, frame, start, end)

    def _ipv6(self, frame: bytes, offset: int) -> Segment | None:
        if len(frame) < offset + 40 or frame[offset] >> 4 != 6:
            return None
        payload_len = (frame[offset + 4] << 8) | frame[offset + 5]
        next_header = frame[offset + 6]
        src = frame[offset + 8 : offset + 24]
        dst = frame[offset + 24 : offset + 40]
        start = offset + 40
        end = start + payload_len
        fragment = None
        while next_header in _IPV6_EXTENSIONS or next_header == _IPV6_FRAGMENT:
            if len(frame) < start + 8:
                return None
            if next_header == _IPV6_FRAGMENT:
                field = (frame[start + 2] << 8) | frame[start + 3]
                fragment = (field >> 3, field & 1, frame[start + 4 : start + 8])
                size = 8
            elif next_header == 51:
                size = (frame[start + 1] + 2) * 4
            else:
                size = (frame[start + 1] + 1) * 8
            next_header = frame[start]
            start += size
        if next_header != TCP and next_header != UDP:
            return None
        if fragment is not None and (fragment[0] or fragment[1]):
            ident = (src, dst, fragment[2], next_header)
            return self._fragment(ident, next_header, src, dst, frame, start, end, fragment[0], fragment[1])
        return _transport(next_header, src, dst, frame, start, end)

    def _fragment(
        self,
        ident: tuple,
        protocol: int,
        src: bytes,
        dst: bytes,
        frame: bytes,
        start: int,
        end: int,
        offset: int,
        more: int,
    ) -> Segment | None:
        if offset == 0:
            segment = _transport(protocol, src, dst, frame, start, end, fragmented=True)
            if segment is not None and more:
                if len(self._fragments) >= MAX_FRAGMENT_FLOWS:
                    self._fragments.clear()
                self._fragments[ident] = (segment[2], segment[4])
            return segment
        ports = self._fragments.get(ident)
        if ports is None:
            return None
        if not more:
            del self._fragments[ident]
        return (protocol, src, ports[0], dst, ports[1], b"", max(end - start, 0), 0, 0, True)


def _transport(
    protocol: int, src: bytes, dst: bytes, frame: bytes, start: int, end: int, *, fragmented: bool = False
) -> Segment | None:
    if protocol == UDP:
        if len(frame) < start + 8:
            return None
        sport = (frame[start] << 8) | frame[start + 1]
        dport = (frame[start + 2] << 8) | frame[start + 3]
        length = ((frame[start + 4] << 8) | frame[start + 5]) - 8
        if length < 0 or (not fragmented and start + 8 + length > end):
            length = max(end - start - 8, 0)
        return (UDP, src, sport, dst, dport, frame[start + 8 : start + 8 + length], length, 0, 0, False)
    if len(frame) < start + 20:
        return None
    sport = (frame[start] << 8) | frame[start + 1]
    dport = (frame[start + 2] << 8) | frame[start + 3]
    seq = int.from_bytes(frame[start + 4 : start + 8], "big")
    data_offset = (frame[start + 12] >> 4) * 4
    flags = frame[start + 13]
    length = max(end - start - data_offset, 0)
    return (TCP, src, sport, dst, dport, frame[start + data_offset : end], length, flags, seq, False)
