"""Per-flow classification of a capture: DTLS, TLS, plaintext or empty, with versions and suites.

This is what FS38-04 judges: a flow is encrypted only when every datagram (UDP) or the whole byte
stream (TCP) is made of well-formed DTLS/TLS records; the negotiated suite and version come from
the ServerHello only (the ClientHello merely offers), and only from the server's side. Framing is
not enough: the flow also records how many application-data records it carried and the start of
any that reads as text, so a check can tell fake framing around plaintext from encryption.

Memory stays within the limits of `harness.analysis.capture.limits`, whatever the packets say.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.capture.handshake import ClientHello, ServerHello, version_name
from harness.analysis.capture.limits import (
    DEFAULT_LIMITS,
    MAX_OFFERED_SUITES,
    SAMPLE_BYTES,
    CaptureLimits,
    RetainedBytes,
)
from harness.analysis.capture.packets import TCP, TCP_ACK, TCP_SYN, PacketDecoder
from harness.analysis.capture.pcapio import CaptureFormatError, iter_packets
from harness.analysis.capture.records import (
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    READABLE_CHECKS,
    DtlsHelloAssembler,
    TlsDirection,
    readable_text,
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
    offered_versions: list[str] = field(default_factory=list)  # the client's, best first
    application_records: int = 0  # application-data records, both directions
    readable_application_data: bytes = b""  # start of an application-data record that reads as text
    server_records: int = 0  # records the server side sent of an established session (CCS, data, epoch > 0)
    hello_overflow: bool = False  # a hello was not reassembled (memory limit): it is unknown

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
        "direction",
        "offered_versions",
        "app_records",
        "app_checked",
        "readable",
        "server_records",
        "hello_done",
        "other_records",
    )

    def __init__(
        self,
        protocol: int,
        client: tuple[bytes, int],
        server: tuple[bytes, int],
        ts: float,
        budget: RetainedBytes,
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
        self.tcp = (TlsDirection(budget), TlsDirection(budget)) if protocol == TCP else None
        self.hellos = (DtlsHelloAssembler(budget), DtlsHelloAssembler(budget)) if protocol != TCP else None
        self.cid: list[int | None] = [None, None]  # CID length in records sent by client / server
        self.client_by_syn = False
        self.direction = 0  # who sent the data being fed now: 0 client, 1 server
        self.offered_versions: list[int] = []
        self.app_records = 0
        self.app_checked = 0
        self.readable = b""
        self.server_records = 0
        self.hello_done = [False, False]  # client's ClientHello / server's final ServerHello parsed
        self.other_records = 0  # UDP records that are not application data

    def hello(self, message: ClientHello | ServerHello) -> None:
        if isinstance(message, ClientHello):
            if self.direction != 0:
                return  # a ClientHello from the server side is not what the client offers
            if not self.hello_done[0]:
                self.offered = message.suites[:MAX_OFFERED_SUITES]
                self.offered_versions = (message.supported_versions or [message.version])[:16]
                self.hello_done[0] = True
            if message.connection_id is not None:
                self.cid[1] = len(message.connection_id)
        else:
            if self.direction != 1:
                return  # a ServerHello the client wrote itself proves no handshake with the peer
            self.negotiated_version = message.version
            self.negotiated_suite = message.suite
            self.hello_done[1] = not message.retry
            if message.connection_id is not None:
                self.cid[0] = len(message.connection_id)

    def udp(self, direction: int, payload: bytes, length: int) -> None:
        records = walk_dtls(payload, length, allow_unified=self.records > 0, cid_length=self.cid[direction])
        if not records:
            self.bad = True
            self.sample = payload[:SAMPLE_BYTES]
            return
        count = len(records)
        self.records += count
        if direction:
            self.server_records += count  # less the alerts and hellos, taken off below
        versions = self.versions
        check = self.app_checked < READABLE_CHECKS and not self.readable
        for content_type, version, epoch, start, size in records:
            if version not in versions and version:
                versions[version] = None
            if content_type == CT_APPLICATION_DATA:
                if check:
                    self.app_checked += 1
                    body = payload[start : start + min(size, SAMPLE_BYTES)]
                    if readable_text(body):
                        self.readable = body
                        check = False
                    elif self.app_checked >= READABLE_CHECKS:
                        check = False
                continue
            self.other_records += 1
            if epoch == 0:
                if direction and content_type != CT_CHANGE_CIPHER_SPEC:
                    self.server_records -= 1  # an alert or a hello: no sign of an agreed session
                if content_type == CT_HANDSHAKE and not self.hello_done[direction]:
                    # Only the hellos matter: later handshake messages (certificates) are skipped.
                    self.direction = direction
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
            offered_versions=[
                version_name(v) for v in sorted(self.offered_versions, key=_strength, reverse=True)
            ],
            application_records=self.app_records,
            readable_application_data=self.readable,
            server_records=self.server_records,
            hello_overflow=any(h.overflowed for h in self.hellos) if self.hellos else False,
        )

    def _verdict(self) -> tuple[str, bytes, list[int]]:
        if self.tcp is not None:
            for index, direction in enumerate(self.tcp):
                self.direction = index
                direction.skip_gap(self.hello)
            versions = list(dict.fromkeys([*self.tcp[0].versions, *self.tcp[1].versions]))
            bad = [d for d in self.tcp if d.bad]
            records = self.tcp[0].records + self.tcp[1].records
            self.server_records = self.tcp[1].app_records + self.tcp[1].ccs_records
            self.app_records = self.tcp[0].app_records + self.tcp[1].app_records
            self.readable = self.tcp[0].readable or self.tcp[1].readable
            self.bad = bool(bad)
            self.sample = bad[0].sample if bad else b""
        else:
            versions = list(self.versions)
            records = self.records
            self.app_records = records - self.other_records
        if self.payload_bytes == 0:
            return "empty", b"", versions
        if self.bad:
            return "plaintext", self.sample, versions
        if records == 0:
            return "plaintext", self.first_sample, versions
        return ("tls" if self.tcp is not None else "dtls"), b"", versions


# Protocol versions from weakest to strongest, TLS and DTLS on one scale (DTLS 1.0 ~ TLS 1.1).
_VERSION_STRENGTH = {
    0x0002: 0, 0x0300: 1, 0x0301: 2, 0x0100: 2, 0x0302: 3, 0xFEFF: 3,
    0x0303: 4, 0xFEFD: 4, 0x0304: 5, 0xFEFC: 5,
}  # fmt: skip


def _strength(version: int) -> int:
    if version >> 8 == 0x7F:
        return 5  # TLS 1.3 drafts
    return _VERSION_STRENGTH.get(version, -1)


@dataclass
class CaptureAnalysis:
    """The flows of one or more capture files, and what the analysis could not read or follow."""

    flows: list[Flow] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "FILE: why", one per damaged file
    untracked_flows: int = 0  # flows past CaptureLimits.flows: their packets were not judged
    refused_buffers: int = 0  # reassembly data refused by the per-capture byte limit
    retained_peak: int = 0  # the most reassembly bytes held at once
    limits: CaptureLimits = field(default_factory=CaptureLimits)

    def gaps(self) -> list[str]:
        """What was not judged, one sentence each (for an INCONCLUSIVE reason)."""
        out = [f"capture file unreadable: {problem}" for problem in self.unreadable]
        if self.untracked_flows:
            out.append(
                f"{self.untracked_flows} flow(s) past the analysis limit of {self.limits.flows} flows "
                "per capture were not judged"
            )
        return out


class FlowTable:
    """Flows of one capture file as its packets stream past, within the capture's limits."""

    def __init__(self, limits: CaptureLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.budget = RetainedBytes(limits.retained_bytes)
        self.states: list[_FlowState] = []
        self.untracked: set[tuple] = set()
        self.untracked_count = 0
        self._table: dict[tuple, tuple[_FlowState, int]] = {}
        self._decode = PacketDecoder().decode

    def feed(
        self, packets: Iterable[tuple[float, int, bytes]], start: float | None, end: float | None
    ) -> None:
        decode = self._decode
        table = self._table
        budget = self.budget
        states = self.states
        max_flows = self.limits.flows
        for ts, linktype, frame in packets:
            if (start is not None and ts < start) or (end is not None and ts > end):
                continue
            segment = decode(linktype, frame)
            if segment is None:
                continue
            protocol, src, sport, dst, dport, payload, length, flags, seq, continuation = segment
            key = (protocol, src, sport, dst, dport)
            entry = table.get(key)
            if entry is None:
                if len(states) >= max_flows:
                    self._untracked(key)
                    continue
                if protocol == TCP and flags & TCP_SYN and flags & TCP_ACK:
                    state = _FlowState(protocol, (dst, dport), (src, sport), ts, budget)
                    direction = 1
                else:
                    state = _FlowState(protocol, (src, sport), (dst, dport), ts, budget)
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
                    state.direction = direction
                    streams[direction].segment(seq & 0xFFFFFFFF, payload, state.hello)  # type: ignore[index]
            elif length and not continuation and not state.bad:
                state.udp(direction, payload, length)

    def _untracked(self, key: tuple) -> None:
        """A flow past the limit: counted once (by a bounded set of its keys), never judged."""
        protocol, src, sport, dst, dport = key
        if key in self.untracked or (protocol, dst, dport, src, sport) in self.untracked:
            return
        self.untracked_count += 1
        if len(self.untracked) < self.limits.flows:
            self.untracked.add(key)

    def flows(self) -> list[Flow]:
        self.states.sort(key=lambda s: s.first_seen)
        return [state.to_flow() for state in self.states]


def analyze_capture(
    pcaps: Iterable[Path],
    *,
    start: float | None = None,
    end: float | None = None,
    limits: CaptureLimits = DEFAULT_LIMITS,
) -> CaptureAnalysis:
    """Every flow of every file (a run's capture: one file per boot, oldest first), each file
    classified on its own (a reboot ends every flow), ordered by first packet. A damaged file is
    named in `unreadable` with what was read of it kept; flows past the limit are counted."""
    result = CaptureAnalysis(limits=limits)
    for pcap in pcaps:
        table = FlowTable(limits)
        try:
            table.feed(iter_packets(Path(pcap)), start, end)
        except (CaptureFormatError, OSError) as err:
            result.unreadable.append(f"{pcap}: {err}")
        result.flows += table.flows()
        result.untracked_flows += table.untracked_count
        result.refused_buffers += table.budget.refused
        result.retained_peak = max(result.retained_peak, table.budget.peak)
    result.flows.sort(key=lambda flow: flow.first_seen)
    return result


def classify_flows(pcap: Path, *, start: float | None = None, end: float | None = None) -> list[Flow]:
    """Every TCP/UDP flow in ``pcap`` (packets with timestamps in [start, end] only), ordered by
    first packet. Streams the file: memory depends on the number of flows, not packets, and stays
    within the limits of `harness.analysis.capture.limits` (CaptureFormatError on a damaged file)."""
    table = FlowTable()
    table.feed(iter_packets(Path(pcap)), start, end)
    return table.flows()


def _swap(table: dict, state: _FlowState, client_key: tuple) -> None:
    """A pure SYN came from the side first taken for the server: it is the client after all."""
    state.client, state.server = state.server, state.client
    state.tcp = (state.tcp[1], state.tcp[0])  # type: ignore[index]
    state.cid.reverse()
    protocol, src, sport, dst, dport = client_key
    table[client_key] = (state, 0)
    table[(protocol, dst, dport, src, sport)] = (state, 1)
