"""Streaming pcap/pcapng reading and classic pcap writing with ``struct`` only.

Why not scapy/dpkt: a 200,000-packet capture must be judged in well under a second per 100k
packets, and memory must stay flat however long the capture is. Files are read in large chunks;
one packet at a time is handed out as ``(timestamp, linktype, frame_bytes)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
_CHUNK = 1 << 20
MAX_INTERFACES = 1024  # interface descriptions kept per pcapng section
MAX_BLOCK = 1 << 26  # a pcapng block (or pcap packet) claiming more is damage, not a packet


class CaptureFormatError(ValueError):
    """The file is not a pcap/pcapng capture or is damaged beyond its last whole packet."""


@dataclass
class PcapFormat:
    """What a capture file is, as far as a reader or the evidence writer needs to know."""

    kind: str  # "pcap" | "pcapng"
    linktype: int | None  # classic pcap only (pcapng: per interface)
    nanosecond: bool = False
    byte_order: str = "<"


def sniff_format(path: Path) -> PcapFormat:
    """Read the file header and say which format it is (CaptureFormatError otherwise)."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    return _parse_file_header(head, path)


def _parse_file_header(head: bytes, path: Path) -> PcapFormat:
    if len(head) < 4:
        raise CaptureFormatError(f"{path}: too short to be a capture ({len(head)} bytes)")
    (magic_le,) = struct.unpack_from("<I", head)
    (magic_be,) = struct.unpack_from(">I", head)
    if magic_le == PCAPNG_SHB:
        return PcapFormat("pcapng", None)
    for order, magic in (("<", magic_le), (">", magic_be)):
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            if len(head) < 24:
                raise CaptureFormatError(f"{path}: truncated pcap header")
            linktype = struct.unpack_from(order + "I", head, 20)[0] & 0x0FFFFFFF
            return PcapFormat("pcap", linktype, magic == PCAP_MAGIC_NS, order)
    raise CaptureFormatError(f"{path}: not a pcap or pcapng file (magic 0x{magic_le:08x})")


def iter_packets(path: Path) -> Iterator[tuple[float, int, bytes]]:
    """Yield ``(epoch seconds, linktype, captured bytes)`` for every packet, streaming.

    A file cut short in its last packet (a capture still being written) ends the iteration
    quietly; a damaged header raises CaptureFormatError.
    """
    fmt = sniff_format(path)
    if fmt.kind == "pcap":
        return _iter_pcap(path, fmt)
    return _iter_pcapng(path)


def _iter_pcap(path: Path, fmt: PcapFormat) -> Iterator[tuple[float, int, bytes]]:
    header = struct.Struct(fmt.byte_order + "IIII")
    unpack = header.unpack_from
    divisor = 1e9 if fmt.nanosecond else 1e6
    linktype = fmt.linktype or 0
    with open(path, "rb") as handle:
        handle.seek(24)
        buf = b""
        pos = 0
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return
            buf = buf[pos:] + chunk if pos < len(buf) else chunk
            pos = 0
            end = len(buf)
            while pos + 16 <= end:
                sec, frac, caplen, _origlen = unpack(buf, pos)
                stop = pos + 16 + caplen
                if stop > end:
                    if caplen > MAX_BLOCK:
                        raise CaptureFormatError(f"{path}: packet length {caplen} is implausible")
                    break
                yield sec + frac / divisor, linktype, buf[pos + 16 : stop]
                pos = stop


def _iter_pcapng(path: Path) -> Iterator[tuple[float, int, bytes]]:
    """pcapng: Section Header, Interface Description, Enhanced/Simple/obsolete Packet blocks."""
    interfaces: list[tuple[int, float, int]] = []  # (linktype, seconds per tick, snaplen)
    order = "<"
    with open(path, "rb", buffering=_CHUNK) as handle:
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return
            block_type = struct.unpack_from(order + "I", head)[0]
            if block_type == PCAPNG_SHB:
                bom = handle.peek(4)[:4]
                order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                interfaces = []
            block_len = struct.unpack_from(order + "I", head, 4)[0]
            if block_len < 12 or block_len % 4 or block_len > MAX_BLOCK:
                raise CaptureFormatError(f"{path}: bad pcapng block length {block_len}")
            body = handle.read(block_len - 8)
            if len(body) < block_len - 8:
                return  # cut short while being written
            try:
                packet = _pcapng_packet(block_type, body, order, interfaces)
            except (struct.error, IndexError) as err:
                raise CaptureFormatError(
                    f"{path}: damaged pcapng block of type {block_type}: {err}"
                ) from None
            if packet is not None:
                yield packet


def _pcapng_packet(
    block_type: int, body: bytes, order: str, interfaces: list[tuple[int, float, int]]
) -> tuple[float, int, bytes] | None:
    """The packet of one block (None for blocks that carry none); an IDB is added to `interfaces`."""
    if block_type == 1:
        if len(interfaces) >= MAX_INTERFACES:
            raise IndexError(f"more than {MAX_INTERFACES} interfaces")
        interfaces.append(_parse_idb(body, order))
    elif block_type == 6:
        iface, high, low, caplen = struct.unpack_from(order + "IIII", body)
        linktype, tick, _ = interfaces[iface]
        return ((high << 32) | low) * tick, linktype, body[20 : 20 + caplen]
    elif block_type == 3 and interfaces:
        (origlen,) = struct.unpack_from(order + "I", body)
        linktype, _tick, snaplen = interfaces[0]
        caplen = min(origlen, snaplen) if snaplen else origlen
        return 0.0, linktype, body[4 : 4 + caplen]
    elif block_type == 2:
        iface, _drops, high, low, caplen = struct.unpack_from(order + "HHIII", body)
        linktype, tick, _ = interfaces[iface]
        return ((high << 32) | low) * tick, linktype, body[20 : 20 + caplen]
    return None


def _parse_idb(body: bytes, order: str) -> tuple[int, float, int]:
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body)
    tick = 1e-6
    offset = 8
    while offset + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, offset)
        if code == 0:
            break
        if code == 9 and length >= 1:  # if_tsresol
            value = body[offset + 4]
            tick = 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        offset += 4 + ((length + 3) & ~3)
    return linktype, tick, snaplen


class PcapWriter:
    """A classic pcap file (microseconds unless told nanoseconds), written as packets come."""

    def __init__(self, handle: BinaryIO, linktype: int, *, nanosecond: bool = False, snaplen: int = 262144):
        self._handle = handle
        self._nanosecond = nanosecond
        magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
        handle.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, timestamp: float, data: bytes, origlen: int | None = None) -> None:
        scale = 1_000_000_000 if self._nanosecond else 1_000_000
        ticks = round(timestamp * scale)
        sec, frac = divmod(ticks, scale)
        size = len(data)
        self._handle.write(struct.pack("<IIII", sec, frac, size, origlen or size))
        self._handle.write(data)
