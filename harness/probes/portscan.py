"""Port scans of a device from the lab side: a TCP SYN scan of every port and a UDP scan of common ones.

Probes are crafted with scapy. For 65,535 TCP ports scapy's per-packet build is far too slow
(~1 ms each here), so scapy builds one SYN and the hot loop patches its destination port and TCP
checksum (RFC 1624 incremental update) and sends it on a raw IP socket. Sending is paced by the
answers: at most `window` probes are unanswered at any time, so a slow emulated device is never
flooded into dropping probes, and ports left unanswered are probed again.

Answers are read on raw sockets opened in the lab network (the caller enters the namespace):
SYN-ACK = open, RST = closed, nothing after the retries = filtered. UDP: an answer = open, ICMP
port unreachable = closed, nothing = open|filtered. Linux rate-limits ICMP errors per peer
(a burst of 6, then one a second), so unresolved UDP ports are probed again in rounds until a
budget is spent.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.util.deadlines import Deadline

TCP_WINDOW = 256
TCP_ANSWER_TIMEOUT_S = 1.5
TCP_RETRIES = 2
UDP_BUDGET_S = 12.0
UDP_ROUND_S = 1.0
SOURCE_PORT = 47123
_RECEIVE_BUFFER = 8 * 1024 * 1024
_SYN_ACK = 0x12
_RST = 0x04

# Common UDP services of embedded and cellular devices (and the debug ones), probed by default.
COMMON_UDP_PORTS = (
    53, 67, 69, 123, 137, 161, 500, 514, 520, 623, 1194, 1900, 4500, 5060, 5353, 5683, 5684, 17185, 47808,
)  # fmt: skip


@dataclass
class PortScan:
    """What one scan found; `udp` maps each probed port to open, closed or open|filtered."""

    address: str
    tcp_ports_scanned: int = 0
    tcp_open: list[int] = field(default_factory=list)
    tcp_filtered: list[int] = field(default_factory=list)
    tcp_seconds: float = 0.0
    tcp_probes_sent: int = 0
    udp: dict[int, str] = field(default_factory=dict)
    udp_seconds: float = 0.0

    @property
    def udp_open(self) -> list[int]:
        return sorted(port for port, state in self.udp.items() if state == "open")

    def summary(self) -> str:
        udp_states = {
            state: sorted(p for p, s in self.udp.items() if s == state) for state in set(self.udp.values())
        }
        lines = [
            f"target {self.address}",
            f"TCP SYN scan: {self.tcp_ports_scanned} ports, {self.tcp_probes_sent} probes, {self.tcp_seconds:.1f} s",
            f"  open: {self.tcp_open or 'none'}",
            f"  filtered (no answer after retries): {self.tcp_filtered or 'none'}",
            f"  closed (RST): {self.tcp_ports_scanned - len(self.tcp_open) - len(self.tcp_filtered)} ports",
            f"UDP scan: {len(self.udp)} ports, {self.udp_seconds:.1f} s",
        ]
        lines += [f"  {state}: {ports}" for state, ports in sorted(udp_states.items())]
        return "\n".join(lines) + "\n"


def _checksum_fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _syn_template(address: str, source_port: int) -> tuple[bytes, int]:
    """A SYN to port 0 built with scapy, and its TCP checksum for incremental updates."""
    from scapy.layers.inet import IP, TCP

    packet = IP(dst=address) / TCP(sport=source_port, dport=0, flags="S", seq=0x1C0FFEE, window=1024)
    data = bytes(packet)
    checksum = struct.unpack_from("!H", data, 20 + 16)[0]
    return data, checksum


def _with_port(template: bytes, checksum: int, port: int) -> bytes:
    """The template with destination port `port` and its checksum updated (RFC 1624: HC' = ~(~HC + m'))."""
    new = _checksum_fold((~checksum & 0xFFFF) + port)
    packet = bytearray(template)
    struct.pack_into("!H", packet, 22, port)
    struct.pack_into("!H", packet, 36, ~new & 0xFFFF)
    return bytes(packet)


def _raw_receiver(protocol: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
    sock.setblocking(False)
    return sock


def _drain_tcp(sock: socket.socket, address: str, source_port: int, answers: dict[int, str]) -> None:
    source = socket.inet_aton(address)
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            return
        if len(data) < 40 or data[12:16] != source:
            continue
        offset = (data[0] & 0x0F) * 4
        sport, dport = struct.unpack_from("!HH", data, offset)
        flags = data[offset + 13]
        if dport != source_port:
            continue
        if flags & _SYN_ACK == _SYN_ACK:
            answers[sport] = "open"
        elif flags & _RST:
            answers.setdefault(sport, "closed")


def tcp_syn_scan(
    address: str,
    ports: Iterable[int] = range(1, 65536),
    *,
    window: int = TCP_WINDOW,
    retries: int = TCP_RETRIES,
    answer_timeout: float = TCP_ANSWER_TIMEOUT_S,
    source_port: int = SOURCE_PORT,
    deadline_s: float = 60.0,
) -> PortScan:
    """SYN-scan `ports` of `address`; run it inside the lab network (raw sockets need root)."""
    wanted = list(dict.fromkeys(ports))
    result = PortScan(address=address, tcp_ports_scanned=len(wanted))
    template, checksum = _syn_template(address, source_port)
    answers: dict[int, str] = {}
    started = time.monotonic()
    deadline = Deadline.after(deadline_s)
    sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    receiver = _raw_receiver(socket.IPPROTO_TCP)
    try:
        pending = wanted
        for _ in range(1 + retries):
            sent = 0
            for port in pending:
                sender.sendto(_with_port(template, checksum, port), (address, 0))
                result.tcp_probes_sent += 1
                sent += 1
                if sent % window == 0:
                    _wait_for_answers(
                        receiver, address, source_port, answers, pending, sent, window, deadline
                    )
            _settle(receiver, address, source_port, answers, pending, answer_timeout, deadline)
            pending = [port for port in pending if port not in answers]
            if not pending or deadline.expired:
                break
    finally:
        sender.close()
        receiver.close()
    result.tcp_open = sorted(port for port, state in answers.items() if state == "open")
    result.tcp_filtered = sorted(port for port in wanted if port not in answers)
    result.tcp_seconds = time.monotonic() - started
    return result


def _wait_for_answers(
    receiver: socket.socket,
    address: str,
    source_port: int,
    answers: dict[int, str],
    pending: list[int],
    sent: int,
    window: int,
    deadline: Deadline,
) -> None:
    """Block until fewer than half a window of the probes sent so far are unanswered (or briefly stall)."""
    probed = pending[:sent]
    stall = min(deadline, Deadline.after(TCP_ANSWER_TIMEOUT_S))
    while not stall.expired:
        _drain_tcp(receiver, address, source_port, answers)
        unanswered = sum(1 for port in probed[-window:] if port not in answers)
        if unanswered < window // 2:
            return
        select.select([receiver], [], [], 0.05)


def _settle(
    receiver: socket.socket,
    address: str,
    source_port: int,
    answers: dict[int, str],
    pending: list[int],
    timeout: float,
    deadline: Deadline,
) -> None:
    """Collect late answers until every probe is answered or `timeout` passes without progress."""
    quiet = min(deadline, Deadline.after(timeout))
    seen = len(answers)
    while not quiet.expired:
        select.select([receiver], [], [], 0.05)
        _drain_tcp(receiver, address, source_port, answers)
        if all(port in answers for port in pending):
            return
        if len(answers) != seen:
            seen = len(answers)
            quiet = min(deadline, Deadline.after(timeout))  # progress: a fresh quiet window


def _udp_payloads() -> dict[int, bytes]:
    """Service-specific probes (built with scapy) that make an open service answer."""
    from scapy.asn1.asn1 import ASN1_OID
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.ntp import NTPHeader
    from scapy.layers.snmp import SNMP, SNMPget, SNMPvarbind

    dns = bytes(DNS(rd=1, qd=DNSQR(qname="hilsec.example")))
    return {
        53: dns,
        5353: dns,
        123: bytes(NTPHeader()),
        161: bytes(
            SNMP(
                community="public", PDU=SNMPget(varbindlist=[SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"))])
            )
        ),
        5683: bytes.fromhex("40010001"),  # CoAP confirmable GET, message id 1
    }


def udp_scan(
    address: str,
    ports: Iterable[int] = COMMON_UDP_PORTS,
    *,
    budget_s: float = UDP_BUDGET_S,
    source_addresses: Iterable[str] = ("",),
) -> dict[int, str]:
    """Probe UDP `ports` of `address` in rounds; open, closed or open|filtered for each.

    Each round spreads the unresolved ports over `source_addresses` (lab-side addresses), since
    the device's ICMP rate limit is per peer address.
    """
    wanted = list(dict.fromkeys(ports))
    payloads = _udp_payloads()
    states: dict[int, str] = {}
    icmp = _raw_receiver(socket.IPPROTO_ICMP)
    udp_in = _raw_receiver(socket.IPPROTO_UDP)
    probers = []
    for source in list(source_addresses) or [""]:
        prober = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        prober.bind((source, 0))
        probers.append(prober)
    local_ports = {prober.getsockname()[1] for prober in probers}
    target = socket.inet_aton(address)
    deadline = Deadline.after(budget_s)
    try:
        for round_number in range(1_000_000):
            pending = [port for port in wanted if port not in states]
            if not pending or deadline.expired:
                break
            for index, port in enumerate(pending):
                prober = probers[(index + round_number) % len(probers)]
                try:
                    prober.sendto(payloads.get(port, b"\r\n"), (address, port))
                except OSError:
                    pass  # an ICMP error from an earlier probe surfaced on this socket
            round_end = min(deadline, Deadline.after(UDP_ROUND_S))
            while not round_end.expired:
                select.select([icmp, udp_in], [], [], 0.05)
                _drain_icmp(icmp, target, local_ports, states)
                _drain_udp(udp_in, target, local_ports, states)
                if all(port in states for port in pending):
                    break
    finally:
        for sock in (icmp, udp_in, *probers):
            sock.close()
    return {port: states.get(port, "open|filtered") for port in wanted}


def _drain_icmp(sock: socket.socket, target: bytes, local_ports: set[int], states: dict[int, str]) -> None:
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            return
        offset = (data[0] & 0x0F) * 4
        if len(data) < offset + 8 + 28 or data[12:16] != target:
            continue
        icmp_type, code = data[offset], data[offset + 1]
        inner = offset + 8
        inner_header = (data[inner] & 0x0F) * 4
        if data[inner + 9] != socket.IPPROTO_UDP or len(data) < inner + inner_header + 4:
            continue
        sport, dport = struct.unpack_from("!HH", data, inner + inner_header)
        if sport not in local_ports:
            continue
        if icmp_type == 3 and code == 3:
            states.setdefault(dport, "closed")
        elif icmp_type == 3:
            states.setdefault(dport, "filtered")


def _drain_udp(sock: socket.socket, target: bytes, local_ports: set[int], states: dict[int, str]) -> None:
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            return
        offset = (data[0] & 0x0F) * 4
        if len(data) < offset + 8 or data[12:16] != target:
            continue
        sport, dport = struct.unpack_from("!HH", data, offset)
        if dport in local_ports:
            states[sport] = "open"


def scan_device(
    address: str,
    tcp_ports: Iterable[int] = range(1, 65536),
    udp_ports: Iterable[int] = COMMON_UDP_PORTS,
    *,
    udp_budget_s: float = UDP_BUDGET_S,
    source_addresses: Iterable[str] = ("",),
) -> PortScan:
    """A full TCP SYN scan and a UDP scan of common ports (call it from inside the lab network)."""
    result = tcp_syn_scan(address, tcp_ports)
    started = time.monotonic()
    result.udp = udp_scan(address, udp_ports, budget_s=udp_budget_s, source_addresses=source_addresses)
    result.udp_seconds = time.monotonic() - started
    return result
