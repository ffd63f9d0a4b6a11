"""Captures a hostile device could make the lab record, built packet by packet (a test double of
nothing: these are real pcap files, only crafted instead of recorded).

Each aims at one buffer of the capture analysis: DTLS hello fragments that claim the largest
message and never complete (the 1.8 MB capture that once took 4 GB), out-of-order TCP segments
that never fill their gap, a flood of one-packet flows, and fake DTLS framing around plaintext.
"""

from __future__ import annotations

import struct
from pathlib import Path

from harness.analysis.capture.pcapio import PcapWriter

DEVICE = bytes([10, 0, 2, 15])
PEER = bytes([10, 0, 2, 2])
_ETHERNET = b"\x52\x54\x00\x12\x34\x56\x52\x55\x0a\x00\x02\x02\x08\x00"
START = 1_795_000_000.0


def _ip(src: bytes, dst: bytes, protocol: int, body: bytes) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, protocol, 0, src, dst)
    return _ETHERNET + header + body


def udp_frame(src: bytes, sport: int, dst: bytes, dport: int, payload: bytes) -> bytes:
    return _ip(src, dst, 17, struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload)


def tcp_frame(
    src: bytes, sport: int, dst: bytes, dport: int, seq: int, flags: int, payload: bytes = b""
) -> bytes:
    header = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 5 << 4, flags, 65535, 0, 0)
    return _ip(src, dst, 6, header + payload)


def dtls_record(
    content_type: int, body: bytes, *, version: int = 0xFEFD, epoch: int = 0, seq: int = 0
) -> bytes:
    return (
        struct.pack(">BHH", content_type, version, epoch)
        + seq.to_bytes(6, "big")
        + struct.pack(">H", len(body))
        + body
    )


def hello_fragment(
    msg_seq: int, offset: int, fragment: bytes, *, msg_len: int = 0xFFFF, msg_type: int = 1
) -> bytes:
    return (
        bytes([msg_type])
        + msg_len.to_bytes(3, "big")
        + msg_seq.to_bytes(2, "big")
        + offset.to_bytes(3, "big")
        + len(fragment).to_bytes(3, "big")
        + fragment
    )


def write_fragment_storm(path: Path, *, size: int = 1_800_000, flows: int = 64, fill: bool = False) -> int:
    """DTLS datagrams of ClientHello fragments claiming 64 KiB messages that never complete,
    round-robin over `flows` flows. Default: 100 one-byte fragments a datagram, each of a new
    message (new message_seq); `fill`: six 200-byte fragments of four messages, to fill what a
    flow may keep."""
    written = 0
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, 1)
        index = 0
        msg_seq = 0
        while handle.tell() < size:
            flow = index % flows
            if fill:
                round_ = index // flows
                fragments = b"".join(
                    hello_fragment((round_ + i) % 4, 1 + 200 * (round_ * 6 + i), b"\x41" * 200)
                    for i in range(6)
                )
            else:
                fragments = b"".join(
                    hello_fragment((msg_seq + i) & 0xFFFF, 1 + i, b"\x41") for i in range(100)
                )
                msg_seq += 100
            record = dtls_record(22, fragments, version=0xFEFF)
            frame = udp_frame(DEVICE, 40000 + flow, PEER, 5684, record)
            writer.write(START + index * 0.001, frame)
            written += 1
            index += 1
    return written


def write_tcp_gap_storm(path: Path, *, size: int = 1_800_000, flows: int = 64) -> int:
    """TCP connections whose first data segment never arrives: every later one waits for the gap."""
    written = 0
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, 1)
        for flow in range(flows):
            writer.write(START, tcp_frame(DEVICE, 41000 + flow, PEER, 443, 1000, 0x02))
            written += 1
        index = 0
        while handle.tell() < size:
            flow = index % flows
            segment = index // flows
            seq = 1001 + 1400 + segment * 1400  # always past the missing first 1400 bytes
            frame = tcp_frame(DEVICE, 41000 + flow, PEER, 443, seq, 0x18, bytes([0x17]) * 1400)
            writer.write(START + index * 0.001, frame)
            written += 1
            index += 1
    return written


def write_flow_flood(path: Path, *, flows: int) -> int:
    """One tiny UDP datagram per flow, every one a new 5-tuple."""
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, 1)
        for index in range(flows):
            client = bytes([10, 0, 2 + (index >> 16), 15])
            writer.write(START + index * 1e-4, udp_frame(client, 1024 + (index & 0xFFFF), PEER, 53, b"x"))
    return flows


def write_fake_dtls(path: Path, text: bytes = b"temp=21.5 seq=7 imei=490154203237518") -> None:
    """DTLS 1.2 application-data framing around plaintext, with no handshake at all."""
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, 1)
        for seq in range(3):
            record = dtls_record(23, text, epoch=1, seq=seq)
            writer.write(START + seq, udp_frame(DEVICE, 40001, PEER, 5684, record))
