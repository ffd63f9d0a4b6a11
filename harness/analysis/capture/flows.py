"""Per-flow classification of a capture: DTLS, TLS, plaintext or empty, with versions and suites.

This is what FS38-04 judges: a flow is encrypted only when every datagram (UDP) or the whole byte
stream (TCP) is made of well-formed DTLS/TLS records; the negotiated suite and version come from
the ServerHello only (the ClientHello merely offers).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.capture.handshake import ClientHello, ServerHello, version_name
from harness.analysis.capture.packets import TCP, TCP_ACK, TCP_SYN, PacketDecoder
from harness.analysis.capture.pcapio import iter_packets
from harness.analysis.capture.records import (
    CT_HANDSHAKE,
    SAMPLE_BYTES,
    DtlsHelloAssembler,
    TlsDirection,
    walk_dtls,
)


@dataclass
class Flow:
    """One 5-tuple conversation; ``client`` is the side that sent first (the SYN sender for TCP)."""

    protocol: str  # "udp" | "tcp"
    client: tuple[str, int]
    server: tuple[str, int]
    first_seen: float
    last_seen: float
    packets: int
    payload_bytes: int
    kind: str  # "dtls" | "tls" | "plaintext" | "empty"
    record_versions: list[str] = field(default_factory=list)
    negotiated_version: str | None = None
    negotiated_suite: int | None = None
    offered_suites: list[int] = field(default_factory=list)
    plaintext_sample: bytes = b""

    @property
    def encrypted(self) -> bool:
        return self.kind in ("dtls", "tls")

    def describe(self) -> str:
        """One line naming the flow, for verdict reasons: ``udp 10.0.2.15:40000 -> 10.0.2.2:5684``."""
        return f"{self.protocol} {_endpoint(self.client)} -> {_endpoint(self.server)}"


def _endpoint(endpoint: tuple[str, int]) -> str:
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _address(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


class _FlowState:
    """Small, bounded state of one flow while the capture streams past."""

    __slots__ = (
        "protocol",
        "client",
        "server",
        "first_seen",
        "last_seen",
        "packets",
        "payload_bytes",
        "versions",
        "negotiated_version",
        "negotiated_suite",
        "offered",
        "records",
        "bad",
        "sample",
        "first_sample",
        "tcp",
        "hellos",
        "cid",
        "client_by_syn",
    )

    def __init__(
        self, protocol: int, client: tuple[bytes, int], server: tuple[bytes, int], ts: float
    ) -> None:
        self.protocol = protocol
        self.client = client
        self.server = server
        self.first_seen = ts
        self.last_seen = ts
        self.packets = 0
        self.payload_bytes = 0
        self.versions: dict[int, None] = {}
        self.negotiated_version: int | None = None
        self.negotiated_suite: int | None = None
        self.offered: list[int] = []
        self.records = 0
        self.bad = False
        self.sample = b""
        self.first_sample = b""
        self.tcp = (TlsDirection(), TlsDirection()) if protocol == TCP else None
        self.hellos = (DtlsHelloAssembler(), DtlsHelloAssembler()) if protocol != TCP else None
        self.cid: list[int | None] = [None, None]  # CID length in records sent by client / server
        self.client_by_syn = False

    def hello(self, message: ClientHello | ServerHello) -> None:
        if isinstance(message, ClientHello):
            if not self.offered:
                self.offered = message.suites
            if message.connection_id is not None:
                self.cid[1] = len(message.connection_id)
        else:
            self.negotiated_version = message.version
            self.negotiated_suite = message.suite
            if message.connection_id is not None:
                self.cid[0] = len(message.connection_id)

    def udp(self, direction: int, payload: bytes, length: int) -> None:
        records = walk_dtls(payload, length, allow_unified=self.records > 0, cid_length=self.cid[direction])
        if not records:
            self.bad = True
            self.sample = payload[:SAMPLE_BYTES]
            return
        self.records += len(records)
        versions = self.versions
        for content_type, version, epoch, start, size in records:
            if version and version not in versions:
                versions[version] = None
            if content_type == CT_HANDSHAKE and epoch == 0:
                self.hellos[direction].feed_record(payload[start : start + size], self.hello)  # type: ignore[index]

    def to_flow(self) -> Flow:
        kind, sample, versions = self._verdict()
        return Flow(
            protocol="tcp" if self.protocol == TCP else "udp",
            client=(_address(self.client[0]), self.client[1]),
            server=(_address(self.server[0]), self.server[1]),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            packets=self.packets,
            payload_bytes=self.payload_bytes,
            kind=kind,
            record_versions=[version_name(v) for v in versions],
            negotiated_version=None
            if self.negotiated_version is None
            else version_name(self.negotiated_version),
            negotiated_suite=self.negotiated_suite,
            offered_suites=list(self.offered),
            plaintext_sample=sample,
        )

    def _verdict(self) -> tuple[str, bytes, list[int]]:
        if self.tcp is not None:
            for direction in self.tcp:
                direction.skip_gap(self.hello)
            versions = list(dict.fromkeys([*self.tcp[0].versions, *self.tcp[1].versions]))
            bad = [d for d in self.tcp if d.bad]
            records = self.tcp[0].records + self.tcp[1].records
            self.bad = bool(bad)
            self.sample = bad[0].sample if bad else b""
        else:
            versions = list(self.versions)
            records = self.records
        if self.payload_bytes == 0:
            return "empty", b"", versions
        if self.bad:
            return "plaintext", self.sample, versions
        if records == 0:
            return "plaintext", self.first_sample, versions
        return ("tls" if self.tcp is not None else "dtls"), b"", versions


def classify_flows(pcap: Path, *, start: float | None = None, end: float | None = None) -> list[Flow]:
    """Every TCP/UDP flow in ``pcap`` (packets with timestamps in [start, end] only), ordered by
    first packet. Streams the file: memory depends on the number of flows, not packets."""
    decode = PacketDecoder().decode
    table: dict[tuple, tuple[_FlowState, int]] = {}
    states: list[_FlowState] = []
    for ts, linktype, frame in iter_packets(Path(pcap)):
        if (start is not None and ts < start) or (end is not None and ts > end):
            continue
        segment = decode(linktype, frame)
        if segment is None:
            continue
        protocol, src, sport, dst, dport, payload, length, flags, seq, continuation = segment
        key = (protocol, src, sport, dst, dport)
        entry = table.get(key)
        if entry is None:
            if protocol == TCP and flags & TCP_SYN and flags & TCP_ACK:
                state = _FlowState(protocol, (dst, dport), (src, sport), ts)
                direction = 1
            else:
                state = _FlowState(protocol, (src, sport), (dst, dport), ts)
                direction = 0
                state.client_by_syn = protocol == TCP and bool(flags & TCP_SYN)
            table[key] = (state, direction)
            table[(protocol, dst, dport, src, sport)] = (state, 1 - direction)
            states.append(state)
        else:
            state, direction = entry
        state.packets += 1
        if ts > state.last_seen:
            state.last_seen = ts
        elif ts < state.first_seen:
            state.first_seen = ts
        if length:
            state.payload_bytes += length
            if not state.first_sample and payload:
                state.first_sample = payload[:SAMPLE_BYTES]
        if protocol == TCP:
            streams = state.tcp
            if flags & TCP_SYN:
                if not flags & TCP_ACK and direction == 1 and not state.client_by_syn:
                    _swap(table, state, key)
                    direction = 0
                    streams = state.tcp
                state.client_by_syn = state.client_by_syn or not flags & TCP_ACK
                streams[direction].syn(seq)  # type: ignore[index]
                seq += 1
            if payload and not continuation:
                streams[direction].segment(seq & 0xFFFFFFFF, payload, state.hello)  # type: ignore[index]
        elif length and not continuation and not state.bad:
            state.udp(direction, payload, length)
    states.sort(key=lambda s: s.first_seen)
    return [state.to_flow() for state in states]


def _swap(table: dict, state: _FlowState, client_key: tuple) -> None:
    """A pure SYN came from the side first taken for the server: it is the client after all."""
    state.client, state.server = state.server, state.client
    state.tcp = (state.tcp[1], state.tcp[0])  # type: ignore[index]
    state.cid.reverse()
    protocol, src, sport, dst, dport = client_key
    table[client_key] = (state, 0)
    table[(protocol, dst, dport, src, sport)] = (state, 1)
