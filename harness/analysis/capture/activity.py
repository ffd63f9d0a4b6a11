"""When the device talked to each peer: packet times per direction and connection attempts.

The resilience checks judge timing, not content: whether a peer the device talked to before an
outage hears from it (and answers) again afterwards, and how often the device tried to reach it
during the outage. A peer is (protocol, address, port) of the far side of flows the device
started; an attempt is a new flow the device started (a new 5-tuple) or, for TCP, each SYN it sent
(the kernel's own retransmissions back off by themselves). Memory is bounded: at most
`MAX_PEERS` peers and `MAX_TIMES` times per list; past that the activity says it is truncated,
and a check must not PASS on it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.capture.packets import TCP, TCP_ACK, TCP_SYN, PacketDecoder
from harness.analysis.capture.pcapio import CaptureFormatError, iter_packets

MAX_PEERS = 256
MAX_TIMES = 5000  # per list: a storm of 100 ms attempts over a minute fits
MAX_FLOWS = 20000  # 5-tuples remembered to tell a new attempt from a packet of a known flow


@dataclass
class PeerActivity:
    """What passed between the device and one peer it reached out to."""

    protocol: str  # "tcp" | "udp"
    address: str
    port: int
    sent: list[float] = field(default_factory=list)  # device -> peer packet times
    received: list[float] = field(default_factory=list)  # peer -> device packet times
    attempts: list[float] = field(default_factory=list)  # new flows / SYNs the device started
    truncated: bool = False

    @property
    def name(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.protocol} {host}:{self.port}"

    def _add(self, times: list[float], when: float) -> None:
        if len(times) >= MAX_TIMES:
            self.truncated = True
            return
        times.append(when)


@dataclass
class DeviceActivity:
    """Every peer of the device in a capture, and what could not be read."""

    peers: list[PeerActivity] = field(default_factory=list)
    device_packets: list[float] = field(default_factory=list)  # any IP packet the device sent (bounded)
    unreadable: list[str] = field(default_factory=list)
    truncated: bool = False

    def peer(self, name: str) -> PeerActivity | None:
        return next((p for p in self.peers if p.name == name), None)


def _address(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def device_activity(
    pcaps: Iterable[Path], device_address: str, *, start: float | None = None, end: float | None = None
) -> DeviceActivity:
    """The device's peers in these capture files (one per boot, oldest first), packets with
    timestamps in [start, end] only. Flows the lab started towards the device are not peers."""
    device = socket.inet_pton(socket.AF_INET6 if ":" in device_address else socket.AF_INET, device_address)
    result = DeviceActivity()
    peers: dict[tuple[int, bytes, int], PeerActivity] = {}
    lab_started: set[tuple] = set()
    known: set[tuple] = set()
    for pcap in pcaps:
        decoder = PacketDecoder()
        try:
            for when, linktype, frame in iter_packets(Path(pcap)):
                if (start is not None and when < start) or (end is not None and when > end):
                    continue
                segment = decoder.decode(linktype, frame)
                if segment is None:
                    continue
                protocol, src, sport, dst, dport, _payload, _length, flags, _seq, _cont = segment
                if src == device:
                    key, outgoing = (protocol, dst, dport, sport), True
                elif dst == device:
                    key, outgoing = (protocol, src, sport, dport), False
                else:
                    continue
                if outgoing:
                    if len(result.device_packets) < MAX_TIMES:
                        result.device_packets.append(when)
                    else:
                        result.truncated = True
                if key in lab_started:
                    continue
                flow_start = key not in known
                if flow_start:
                    if not outgoing or (protocol == TCP and flags & TCP_SYN and flags & TCP_ACK):
                        # the lab spoke first, or the device answered a SYN: the lab's flow
                        if len(lab_started) < MAX_FLOWS:
                            lab_started.add(key)
                        continue
                    if len(known) >= MAX_FLOWS:
                        result.truncated = True
                    else:
                        known.add(key)
                peer = peers.get(key[:3])
                if peer is None:
                    if len(peers) >= MAX_PEERS:
                        result.truncated = True
                        continue
                    peer = PeerActivity("tcp" if protocol == TCP else "udp", _address(key[1]), key[2])
                    peers[key[:3]] = peer
                if outgoing:
                    peer._add(peer.sent, when)
                    syn = protocol == TCP and flags & TCP_SYN and not flags & TCP_ACK
                    if syn or (flow_start and protocol != TCP):
                        peer._add(peer.attempts, when)
                else:
                    peer._add(peer.received, when)
        except (CaptureFormatError, OSError) as err:
            result.unreadable.append(f"{pcap}: {err}")
    result.peers = sorted(peers.values(), key=lambda p: p.name)
    result.truncated = result.truncated or any(p.truncated for p in result.peers)
    return result
