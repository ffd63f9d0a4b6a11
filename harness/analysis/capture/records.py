"""The record layers: DTLS records inside one datagram, TLS records across a TCP byte stream.

A datagram is DTLS only if its records, walked header by header, fill it exactly: a plaintext
payload that merely starts with ``16 fe fd`` fails that test. A TCP direction is TLS only while
every record header, read in stream order, is well formed.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.analysis.capture.handshake import (
    CLIENT_HELLO,
    SERVER_HELLO,
    ClientHello,
    HelloParseError,
    ServerHello,
    parse_client_hello,
    parse_server_hello,
)

DTLS_VERSIONS = frozenset((0xFEFF, 0xFEFD, 0xFEFC, 0x0100))
CT_CHANGE_CIPHER_SPEC = 20
CT_HANDSHAKE = 22
CT_TLS12_CID = 25
UNIFIED = -1  # pseudo content type of a DTLS 1.3 encrypted (unified header) record
MAX_TLS_RECORD = (1 << 14) + 2048
MAX_HELLO = 1 << 16  # a hello bigger than this is not parsed (memory bound)
MAX_PENDING_SEGMENTS = 64
MAX_PENDING_BYTES = 1 << 18
SAMPLE_BYTES = 64

Hello = ClientHello | ServerHello
HelloSink = Callable[[Hello], None]


def walk_dtls(
    payload: bytes, total: int, *, allow_unified: bool = False, cid_length: int | None = None
) -> list[tuple[int, int, int, int, int]] | None:
    """Records ``(content_type, version, epoch, body_start, body_length)`` of one datagram, or
    None when the payload is not DTLS. ``total`` is the datagram's real length (the UDP length
    field), ``payload`` may be shorter when the capture truncated it; what was captured must
    still be consistent."""
    records = []
    offset = 0
    have = len(payload)
    truncated = have < total
    while offset < total:
        if offset >= have:
            return records or None  # the rest was cut by the snap length
        content_type = payload[offset]
        if 20 <= content_type <= 25:
            if offset + 13 > have:
                return records if truncated and records else None
            version = (payload[offset + 1] << 8) | payload[offset + 2]
            if version not in DTLS_VERSIONS:
                return None
            epoch = (payload[offset + 3] << 8) | payload[offset + 4]
            if content_type == CT_TLS12_CID:
                header = _cid_header_length(payload, offset, total, have, cid_length)
                if header is None:
                    return None
            else:
                header = 13
            length = (payload[offset + header - 2] << 8) | payload[offset + header - 1]
            start = offset + header
            records.append((content_type, version, epoch, start, length))
            offset = start + length
        elif allow_unified and content_type & 0xE0 == 0x20 and not content_type & 0x10:
            header = 2 + (1 if content_type & 0x08 else 0)  # flags + 8/16-bit sequence number
            if content_type & 0x04:
                if offset + header + 2 > have:
                    return records if truncated and records else None
                length = (payload[offset + header] << 8) | payload[offset + header + 1]
                header += 2
            else:
                length = total - offset - header
            records.append((UNIFIED, 0, content_type & 0x03, offset + header, length))
            offset += header + length
        else:
            return None
    return records if offset == total else None


def _cid_header_length(
    payload: bytes, offset: int, total: int, have: int, cid_length: int | None
) -> int | None:
    """Header length of a DTLS 1.2 connection-ID record: the CID length comes from the hellos;
    when they were not seen, the only length that makes the record end the datagram is used."""
    candidates = [cid_length] if cid_length is not None else range(0, 33)
    for cid in candidates:
        header = 13 + cid
        if offset + header > have:
            continue
        length = (payload[offset + header - 2] << 8) | payload[offset + header - 1]
        if cid_length is not None or offset + header + length == total:
            return header
    return None


class DtlsHelloAssembler:
    """Reassembles fragmented ClientHello/ServerHello messages of one direction (DTLS fragments
    carry message_seq, fragment_offset, fragment_length); other handshake messages are ignored."""

    __slots__ = ("_parts", "done")

    def __init__(self) -> None:
        self._parts: dict[int, tuple[int, bytearray, list[tuple[int, int]]]] = {}
        self.done = False

    def feed_record(self, body: bytes, sink: HelloSink) -> None:
        offset = 0
        while offset + 12 <= len(body):
            msg_type = body[offset]
            msg_len = int.from_bytes(body[offset + 1 : offset + 4], "big")
            msg_seq = int.from_bytes(body[offset + 4 : offset + 6], "big")
            frag_off = int.from_bytes(body[offset + 6 : offset + 9], "big")
            frag_len = int.from_bytes(body[offset + 9 : offset + 12], "big")
            fragment = body[offset + 12 : offset + 12 + frag_len]
            offset += 12 + frag_len
            if msg_type not in (CLIENT_HELLO, SERVER_HELLO) or msg_len > MAX_HELLO:
                continue
            if frag_off + len(fragment) > msg_len:
                continue
            if frag_off == 0 and len(fragment) == msg_len:
                self._emit(msg_type, bytes(fragment), sink)
                continue
            key = (msg_seq << 8) | msg_type
            _, buffer, covered = self._parts.setdefault(key, (msg_type, bytearray(msg_len), []))
            if len(buffer) != msg_len:
                continue
            buffer[frag_off : frag_off + len(fragment)] = fragment
            covered.append((frag_off, frag_off + len(fragment)))
            if _covers(covered, msg_len):
                del self._parts[key]
                self._emit(msg_type, bytes(buffer), sink)

    def _emit(self, msg_type: int, message: bytes, sink: HelloSink) -> None:
        try:
            if msg_type == CLIENT_HELLO:
                sink(parse_client_hello(message, dtls=True))
            else:
                sink(parse_server_hello(message))
        except HelloParseError:
            pass


def _covers(intervals: list[tuple[int, int]], length: int) -> bool:
    reached = 0
    for start, end in sorted(intervals):
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= length


class TlsDirection:
    """One direction of a TCP connection: in-order reassembly and TLS record walking.

    Memory is bounded: out-of-order segments wait in a small queue, record bodies are skipped
    without buffering except handshake records before the hello of this direction was parsed.
    """

    __slots__ = (
        "next_seq",
        "pending",
        "pending_bytes",
        "resync",
        "header",
        "skip",
        "collect",
        "hello_buffer",
        "want_hello",
        "records",
        "bad",
        "sample",
        "versions",
    )

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.resync = False  # looking for a record boundary after a gap or a mid-stream start
        self.header = b""
        self.skip = 0
        self.collect = False
        self.hello_buffer = bytearray()
        self.want_hello = True
        self.records = 0
        self.bad = False
        self.sample = b""
        self.versions: dict[int, None] = {}

    def syn(self, seq: int) -> None:
        expected = (seq + 1) & 0xFFFFFFFF
        if self.next_seq is not None and self.next_seq != expected:
            self.__init__()  # a new connection on the same 5-tuple
        self.next_seq = expected

    def segment(self, seq: int, data: bytes, sink: HelloSink) -> None:
        if self.bad:
            return
        if self.next_seq is None:
            self.next_seq = seq
            self.resync = True
        gap = (seq - self.next_seq) & 0xFFFFFFFF
        if gap == 0:
            self._feed(data, sink)
            self._drain(sink)
        elif gap < 0x80000000:
            if seq not in self.pending:
                self.pending[seq] = data
                self.pending_bytes += len(data)
            if len(self.pending) > MAX_PENDING_SEGMENTS or self.pending_bytes > MAX_PENDING_BYTES:
                self.skip_gap(sink)
        else:
            overlap = (self.next_seq - seq) & 0xFFFFFFFF
            if overlap < len(data):
                self._feed(data[overlap:], sink)
                self._drain(sink)

    def skip_gap(self, sink: HelloSink) -> None:
        """Give up on a missing segment: continue at the earliest queued one, resynchronising."""
        while self.pending and not self.bad:
            assert self.next_seq is not None
            nearest = min(self.pending, key=lambda s: (s - self.next_seq) & 0xFFFFFFFF)  # type: ignore[operator]
            self.next_seq = nearest
            self.resync = True
            self._drain(sink)

    def _drain(self, sink: HelloSink) -> None:
        while self.pending and not self.bad:
            data = self.pending.pop(self.next_seq, None)  # type: ignore[arg-type]
            if data is None:
                stale = [s for s in self.pending if (s - self.next_seq) & 0xFFFFFFFF >= 0x80000000]  # type: ignore[operator]
                if not stale:
                    return
                for seq in stale:
                    old = self.pending.pop(seq)
                    self.pending_bytes -= len(old)
                    overlap = (self.next_seq - seq) & 0xFFFFFFFF  # type: ignore[operator]
                    if overlap < len(old):
                        self._feed(old[overlap:], sink)
                continue
            self.pending_bytes -= len(data)
            self._feed(data, sink)

    def _feed(self, data: bytes, sink: HelloSink) -> None:
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF
        if self.bad:
            return
        if self.resync:
            if len(data) < 5 or not _plausible_tls_header(data, 0):
                return  # cannot judge bytes whose record boundaries are unknown
            self.resync = False
            self.header = b""
            self.skip = 0
            self.collect = False
            self.hello_buffer.clear()
        position = 0
        size = len(data)
        while position < size:
            if self.skip:
                take = min(self.skip, size - position)
                if self.collect:
                    self.hello_buffer += data[position : position + take]
                position += take
                self.skip -= take
                if not self.skip and self.collect:
                    self.collect = False
                    self._parse_hellos(sink)
                continue
            need = 5 - len(self.header)
            self.header += data[position : position + need]
            position += need
            if len(self.header) < 5:
                return
            header = self.header
            if not _plausible_tls_header(header, 0):
                self.bad = True
                self.sample = (header + data[position : position + SAMPLE_BYTES])[:SAMPLE_BYTES]
                self.hello_buffer = bytearray()
                return
            self.header = b""
            content_type = header[0]
            version = (header[1] << 8) | header[2]
            self.versions.setdefault(version)
            self.records += 1
            self.skip = (header[3] << 8) | header[4]
            if content_type == CT_CHANGE_CIPHER_SPEC:
                self.want_hello = False
            self.collect = content_type == CT_HANDSHAKE and self.want_hello and self.skip > 0
            if not self.skip and content_type == CT_HANDSHAKE and self.want_hello:
                self._parse_hellos(sink)

    def _parse_hellos(self, sink: HelloSink) -> None:
        buffer = self.hello_buffer
        while len(buffer) >= 4 and self.want_hello:
            msg_type = buffer[0]
            length = int.from_bytes(buffer[1:4], "big")
            if length > MAX_HELLO:
                self.want_hello = False
                break
            if len(buffer) < 4 + length:
                return
            body = bytes(buffer[4 : 4 + length])
            del buffer[: 4 + length]
            try:
                if msg_type == CLIENT_HELLO:
                    sink(parse_client_hello(body, dtls=False))
                    self.want_hello = False
                elif msg_type == SERVER_HELLO:
                    hello = parse_server_hello(body)
                    sink(hello)
                    self.want_hello = hello.retry
            except HelloParseError:
                self.want_hello = False
        if not self.want_hello:
            self.hello_buffer = bytearray()


def _plausible_tls_header(data: bytes, offset: int) -> bool:
    content_type = data[offset]
    return (
        20 <= content_type <= 24
        and data[offset + 1] == 3
        and data[offset + 2] <= 4
        and ((data[offset + 3] << 8) | data[offset + 4]) <= MAX_TLS_RECORD
    )
