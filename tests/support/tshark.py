"""The oracle: the same per-flow classification computed from tshark's dissection.

Slow (tens of thousands of packets per second) but independent of the struct parser, so tests
compare the two flow by flow. The negotiated suite and version are read from frames holding a
ServerHello (handshake type 2) only; a DTLS datagram counts as DTLS only if tshark found records
in it and their lengths fill the datagram (the rule the fast path applies too).
A TCP segment that tshark holds for reassembly is judged with the PDU it completes.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from harness.analysis.capture.flows import Flow
from harness.analysis.capture.handshake import version_name
from harness.errors import HarnessSetupError

FIELDS = (
    "frame.time_epoch",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.len",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "dtls.record.version",
    "dtls.record.length",
    "dtls.handshake.type",
    "dtls.handshake.ciphersuite",
    "dtls.handshake.version",
    "dtls.handshake.extensions.supported_version",
    "tls.record.version",
    "tls.handshake.type",
    "tls.handshake.ciphersuite",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
)
ALL_UDP_PORTS = "1-65535"


def tshark_command(
    pcap: Path, *, dtls_ports: Iterable[int | str] = (ALL_UDP_PORTS,), tls_ports: Iterable[int | str] = ()
) -> list[str]:
    """The tshark invocation the oracle (and the benchmark) runs."""
    tshark = shutil.which("tshark")
    if tshark is None:
        raise HarnessSetupError("tshark not found (apt-get install -y tshark)")
    argv = [tshark, "-n", "-r", str(pcap)]
    for port in dtls_ports:
        argv += ["-d", f"udp.port=={port},dtls"]
    for port in tls_ports:
        argv += ["-d", f"tcp.port=={port},tls"]
    argv += ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for name in FIELDS:
        argv += ["-e", name]
    return argv


def tshark_flows(
    pcap: Path,
    *,
    start: float | None = None,
    end: float | None = None,
    dtls_ports: Iterable[int | str] = (ALL_UDP_PORTS,),
    tls_ports: Iterable[int | str] = (),
    timeout: float = 300.0,
) -> list[Flow]:
    """Classify ``pcap`` with tshark into the same Flow records as ``classify_flows``.

    By default every UDP port is decoded as DTLS (tshark then marks non-DTLS datagrams as
    malformed or finds no records); TCP relies on tshark's TLS detection plus ``tls_ports``.
    """
    argv = tshark_command(pcap, dtls_ports=dtls_ports, tls_ports=tls_ports)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise HarnessSetupError(f"tshark did not finish within {timeout:.0f} s on {pcap}") from error
    if result.returncode != 0:
        raise HarnessSetupError(f"tshark failed on {pcap}: {result.stderr.strip()[-400:]}")
    builder = _OracleBuilder()
    for line in result.stdout.splitlines():
        builder.add(line.split("\t"), start, end)
    return builder.flows()


def _ints(text: str) -> list[int]:
    return [int(value, 0) for value in text.split(",") if value]


class _OracleFlow:
    def __init__(self, protocol: str, client: tuple[str, int], server: tuple[str, int], ts: float) -> None:
        self.flow = Flow(protocol, client, server, ts, ts, 0, 0, "empty")
        self.versions: dict[int, None] = {}
        self.encrypted_frames = 0
        self.plaintext = False
        self.client_by_syn = False
        self.version: int | None = None


class _OracleBuilder:
    def __init__(self) -> None:
        self._flows: dict[tuple, tuple[_OracleFlow, bool]] = {}
        self._order: list[_OracleFlow] = []

    def add(self, row: list[str], start: float | None, end: float | None) -> None:
        if len(row) < len(FIELDS):
            row = row + [""] * (len(FIELDS) - len(row))
        values = dict(zip(FIELDS, row, strict=True))
        ts = float(values["frame.time_epoch"])
        if (start is not None and ts < start) or (end is not None and ts > end):
            return
        src = (values["ip.src"] or values["ipv6.src"]).split(",")[0]
        dst = (values["ip.dst"] or values["ipv6.dst"]).split(",")[0]
        if values["tcp.srcport"]:
            protocol, prefix = "tcp", "tls"
            sport, dport = int(values["tcp.srcport"].split(",")[0]), int(values["tcp.dstport"].split(",")[0])
            length = int(values["tcp.len"].split(",")[0] or 0)
        elif values["udp.srcport"]:
            protocol, prefix = "udp", "dtls"
            sport, dport = int(values["udp.srcport"].split(",")[0]), int(values["udp.dstport"].split(",")[0])
            length = max(int(values["udp.length"].split(",")[0] or 8) - 8, 0)
        else:
            return
        syn = values["tcp.flags.syn"] in ("1", "True")
        ack = values["tcp.flags.ack"] in ("1", "True")
        key = (protocol, src, sport, dst, dport)
        entry = self._flows.get(key)
        if entry is None:
            if protocol == "tcp" and syn and ack:
                state, from_client = _OracleFlow(protocol, (dst, dport), (src, sport), ts), False
            else:
                state, from_client = _OracleFlow(protocol, (src, sport), (dst, dport), ts), True
                state.client_by_syn = protocol == "tcp" and syn
            self._flows[key] = (state, from_client)
            self._flows[(protocol, dst, dport, src, sport)] = (state, not from_client)
            self._order.append(state)
        else:
            state, from_client = entry
            if syn and not ack and not from_client and not state.client_by_syn:
                flow = state.flow
                flow.client, flow.server = flow.server, flow.client
                self._flows[key] = (state, True)
                self._flows[(protocol, dst, dport, src, sport)] = (state, False)
                state.client_by_syn = True
        flow = state.flow
        flow.packets += 1
        flow.first_seen = min(flow.first_seen, ts)
        flow.last_seen = max(flow.last_seen, ts)
        flow.payload_bytes += length
        if length:
            self._judge_payload(state, values, prefix, protocol, length)
        self._hellos(state, values, prefix)

    def _judge_payload(
        self, state: _OracleFlow, values: dict[str, str], prefix: str, protocol: str, length: int
    ) -> None:
        layers = values["frame.protocols"].split(":")
        transport = layers.index(protocol) if protocol in layers else len(layers) - 1
        above = layers[transport + 1] if transport + 1 < len(layers) else None
        record_versions = _ints(values[f"{prefix}.record.version"])
        if protocol == "tcp" and (above is None or (above == prefix and not record_versions)):
            return  # a segment tshark holds for reassembly: judged with the PDU it completes
        # tshark's malformed flag is not used: with a NULL suite it also fires on the dissection of
        # the cleartext inside valid records (e.g. CoAP on 5684), which says nothing about DTLS.
        encrypted = above == prefix and bool(record_versions)
        if encrypted and protocol == "udp":
            record_lengths = _ints(values["dtls.record.length"])
            encrypted = sum(13 + size for size in record_lengths) == length
        if encrypted:
            state.encrypted_frames += 1
            for version in record_versions:
                state.versions.setdefault(version)
        elif not state.plaintext:
            state.plaintext = True

    def _hellos(self, state: _OracleFlow, values: dict[str, str], prefix: str) -> None:
        types = _ints(values[f"{prefix}.handshake.type"])
        suites = _ints(values[f"{prefix}.handshake.ciphersuite"])
        flow = state.flow
        if 1 in types and not flow.offered_suites:
            flow.offered_suites = suites
        if 2 in types and suites:
            flow.negotiated_suite = suites[-1] if 1 not in types else None
            selected = _ints(values[f"{prefix}.handshake.extensions.supported_version"])
            legacy = _ints(values[f"{prefix}.handshake.version"])
            state.version = selected[0] if selected else (legacy[0] if legacy else None)

    def flows(self) -> list[Flow]:
        result = []
        for state in sorted(self._order, key=lambda s: s.flow.first_seen):
            flow = state.flow
            flow.record_versions = [version_name(v) for v in state.versions]
            flow.negotiated_version = None if state.version is None else version_name(state.version)
            if flow.payload_bytes == 0:
                flow.kind = "empty"
            elif state.plaintext or not state.encrypted_frames:
                flow.kind = "plaintext"
            else:
                flow.kind = "tls" if flow.protocol == "tcp" else "dtls"
            result.append(flow)
        return result
