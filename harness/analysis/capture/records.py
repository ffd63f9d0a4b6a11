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
from harness.analysis.capture.limits import (
    MAX_HELLO,
    MAX_HELLO_FRAGMENTS,
    MAX_PENDING_BYTES,
    MAX_PENDING_HELLOS,
    MAX_PENDING_SEGMENTS,
    SAMPLE_BYTES,
    RetainedBytes,
)

DTLS_VERSIONS = frozenset((0xFEFF, 0xFEFD, 0xFEFC, 0x0100))
CT_CHANGE_CIPHER_SPEC = 20
CT_HANDSHAKE = 22
CT_TLS12_CID = 25
UNIFIED = -1  # pseudo content type of a DTLS 1.3 encrypted (unified header) record
CT_APPLICATION_DATA = 23
MAX_TLS_RECORD = (1 << 14) + 2048
READABLE_CHECKS = 4  # application-data records looked into per direction
READABLE_MIN_BYTES = 8
READABLE_RATIO = 0.85
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}

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


def readable_text(body: bytes) -> bool:
    """Does a record body read as text? Ciphertext is near uniform (about 37% of its bytes fall in
    the text range); application data that is mostly text was never encrypted."""
    sample = body[:SAMPLE_BYTES]
    if len(sample) < READABLE_MIN_BYTES:
        return False
    text = sum(1 for byte in sample if byte in _TEXT_BYTES)
    return text >= READABLE_RATIO * len(sample)


class DtlsHelloAssembler:
    """Reassembles fragmented ClientHello/ServerHello messages of one direction (DTLS fragments
    carry message_seq, fragment_offset, fragment_length); other handshake messages are ignored.

    Only fragments that arrived are kept (never a buffer of the length a header claims): at most
    MAX_PENDING_HELLOS messages, MAX_HELLO_FRAGMENTS fragments each and MAX_HELLO bytes in all
    per direction, each byte also counted against the capture's RetainedBytes. What does not fit
    sets `overflowed`: that hello is unknown, never guessed."""

    __slots__ = ("_parts", "_held", "_budget", "overflowed")

    def __init__(self, budget: RetainedBytes) -> None:
        self._parts: dict[int, tuple[int, list[tuple[int, bytes]]]] = {}
        self._held = 0
        self._budget = budget
        self.overflowed = False

    @property
    def held(self) -> int:
        """Fragment bytes kept now (for the memory-limit tests)."""
        return self._held

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
            if not fragment:
                continue
            key = (msg_seq << 8) | msg_type
            pending = self._parts.get(key)
            if pending is None:
                if len(self._parts) >= MAX_PENDING_HELLOS:
                    self.overflowed = True
                    continue
                pending = (msg_len, [])
                self._parts[key] = pending
            elif pending[0] != msg_len:
                continue
            fragments = pending[1]
            size = len(fragment)
            if (
                len(fragments) >= MAX_HELLO_FRAGMENTS
                or self._held + size > MAX_HELLO
                or not self._budget.take(size)
            ):
                self.overflowed = True
                continue
            fragments.append((frag_off, bytes(fragment)))
            self._held += size
            if _covers(fragments, msg_len):
                self._release(key)
                message = bytearray(msg_len)
                for start, data in fragments:
                    message[start : start + len(data)] = data
                self._emit(msg_type, bytes(message), sink)

    def _release(self, key: int) -> None:
        _, fragments = self._parts.pop(key)
        size = sum(len(data) for _, data in fragments)
        self._held -= size
        self._budget.give(size)

    def _emit(self, msg_type: int, message: bytes, sink: HelloSink) -> None:
        try:
            if msg_type == CLIENT_HELLO:
                sink(parse_client_hello(message, dtls=True))
            else:
                sink(parse_server_hello(message))
        except HelloParseError:
            pass


def _covers(fragments: list[tuple[int, bytes]], length: int) -> bool:
    reached = 0
    for start, data in sorted(fragments, key=lambda item: item[0]):
        if start > reached:
            return False
        reached = max(reached, start + len(data))
    return reached >= length


class TlsDirection:
    """One direction of a TCP connection: in-order reassembly and TLS record walking.

    Memory is bounded: out-of-order segments wait in a small queue, record bodies are skipped
    without buffering except handshake records before the hello of this direction was parsed;
    both buffers are also counted against the capture's RetainedBytes.
    """

    __slots__ = (
        "budget",
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
        "app_records",
        "ccs_records",
        "app_checked",
        "readable",
    )

    def __init__(self, budget: RetainedBytes) -> None:
        self.budget = budget
        self._reset()

    def _reset(self) -> None:
        if getattr(self, "pending_bytes", 0) or getattr(self, "hello_buffer", None):
            self.budget.give(self.pending_bytes + len(self.hello_buffer))
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
        self.app_records = 0
        self.ccs_records = 0
        self.app_checked = 0
        self.readable = b""  # the start of an application-data record that reads as text

    @property
    def held(self) -> int:
        """Bytes kept now in this direction's buffers (for the memory-limit tests)."""
        return self.pending_bytes + len(self.hello_buffer)

    def syn(self, seq: int) -> None:
        expected = (seq + 1) & 0xFFFFFFFF
        if self.next_seq is not None and self.next_seq != expected:
            self._reset()  # a new connection on the same 5-tuple
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
                if (
                    len(self.pending) >= MAX_PENDING_SEGMENTS
                    or self.pending_bytes + len(data) > MAX_PENDING_BYTES
                    or not self.budget.take(len(data))
                ):
                    self._give_up_gap(seq, data, sink)
                    return
                self.pending[seq] = data
                self.pending_bytes += len(data)
        else:
            overlap = (self.next_seq - seq) & 0xFFFFFFFF
            if overlap < len(data):
                self._feed(data[overlap:], sink)
                self._drain(sink)

    def _give_up_gap(self, seq: int, data: bytes, sink: HelloSink) -> None:
        """The queue is full: feed what waits (resynchronising), then go on at this segment."""
        self.skip_gap(sink)
        if self.bad:
            return
        assert self.next_seq is not None
        ahead = (seq - self.next_seq) & 0xFFFFFFFF
        if ahead < 0x80000000:
            if ahead:
                self.next_seq = seq
                self.resync = True
            self._feed(data, sink)
        else:
            overlap = (self.next_seq - seq) & 0xFFFFFFFF
            if overlap < len(data):
                self._feed(data[overlap:], sink)

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
                    self.budget.give(len(old))
                    overlap = (self.next_seq - seq) & 0xFFFFFFFF  # type: ignore[operator]
                    if overlap < len(old):
                        self._feed(old[overlap:], sink)
                continue
            self.pending_bytes -= len(data)
            self.budget.give(len(data))
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
            self.budget.give(len(self.hello_buffer))
            self.hello_buffer.clear()
        position = 0
        size = len(data)
        while position < size:
            if self.skip:
                take = min(self.skip, size - position)
                if self.collect:
                    if len(self.hello_buffer) + take <= MAX_HELLO + 4 and self.budget.take(take):
                        self.hello_buffer += data[position : position + take]
                    else:
                        self._drop_hello()
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
                self.budget.give(len(self.hello_buffer))
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
                self.ccs_records += 1
            elif content_type == CT_APPLICATION_DATA:
                self.app_records += 1
                if self.app_checked < READABLE_CHECKS and not self.readable:
                    self.app_checked += 1
                    body = data[position : position + min(self.skip, SAMPLE_BYTES)]
                    if readable_text(body):
                        self.readable = body
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
            self.budget.give(4 + length)
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
            self._drop_hello()

    def _drop_hello(self) -> None:
        """Stop collecting this direction's hello and free what was collected."""
        self.want_hello = False
        self.collect = False
        self.budget.give(len(self.hello_buffer))
        self.hello_buffer = bytearray()


def _plausible_tls_header(data: bytes, offset: int) -> bool:
    content_type = data[offset]
    return (
        20 <= content_type <= 24
        and data[offset + 1] == 3
        and data[offset + 2] <= 4
        and ((data[offset + 3] << 8) | data[offset + 4]) <= MAX_TLS_RECORD
    )
