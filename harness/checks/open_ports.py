"""FS38-05 open ports: what a lab-side scan found, judged against the services the profile declares.

A production device exposes only what its maker declares. What answers on a port decides first:
a plaintext login or debug service (telnet, rlogin, FTP, a shell that asks for nothing, adb, a
plaintext login prompt), identified by talking to it, is a FAIL on whatever port it listens and
whether or not it is declared, naming what answered. Then by port: telnet (plaintext remote login, a FAIL even when declared), a known
debug service (gdbserver, adb, JDWP, OpenOCD/J-Link, WDB: a FAIL even when declared, since
EN 303 645 5.6-4 wants debug interfaces disabled in production), and any undeclared listener.
UDP ports that neither answer nor draw an ICMP port-unreachable ("open|filtered") cannot be told
apart from a firewalled port, so they are reported but decide nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from harness.results.outcome import Outcome

TELNET_PORTS: dict[tuple[str, int], str] = {
    ("tcp", 23): "telnet",
    ("tcp", 2323): "telnet (alternate port, as used by IoT firmware)",
}

# Well-known ports of debug and development services that must not listen on a production device.
KNOWN_DEBUG_SERVICES: dict[tuple[str, int], str] = {
    ("tcp", 1234): "gdbserver (its customary port)",
    ("tcp", 2345): "gdbserver (its other customary port)",
    ("tcp", 5555): "adb (Android Debug Bridge over TCP)",
    ("tcp", 5037): "adb server",
    ("tcp", 8000): "JDWP (Java Debug Wire Protocol, customary port)",
    ("tcp", 5005): "JDWP (Java Debug Wire Protocol, customary port)",
    ("tcp", 3333): "OpenOCD GDB server (JTAG/SWD debug)",
    ("tcp", 4444): "OpenOCD telnet console (JTAG/SWD debug)",
    ("tcp", 6666): "OpenOCD Tcl server (JTAG/SWD debug)",
    ("tcp", 2331): "SEGGER J-Link GDB server (JTAG/SWD debug)",
    ("tcp", 9229): "Node.js inspector",
    ("udp", 17185): "VxWorks WDB target debug agent",
}


@dataclass(frozen=True)
class DeclaredService:
    """A service the profile declares (network.services)."""

    name: str
    protocol: str
    port: int


@dataclass(frozen=True)
class AnsweringService:
    """What the lab found answering on a TCP port (kind as harness.probes.service_id names it)."""

    port: int
    kind: str
    evidence: str
    plaintext_login: bool
    description: str = ""


@dataclass(frozen=True)
class PortFinding:
    """One open port that makes the check FAIL."""

    protocol: str
    port: int
    kind: str  # "telnet" | "debug" | "undeclared" | "plaintext-login"
    detail: str

    def __str__(self) -> str:
        return f"{self.protocol}/{self.port} open: {self.detail}"


def _classify(
    protocol: str,
    port: int,
    declared: dict[tuple[str, int], DeclaredService],
    answered: AnsweringService | None = None,
) -> PortFinding | None:
    key = (protocol, port)
    said = f" (declared as {declared[key].name!r})" if key in declared else ""
    if answered is not None and answered.plaintext_login:
        what = answered.description or answered.kind
        return PortFinding(protocol, port, "plaintext-login", f"{what} answered: {answered.evidence}{said}")
    if key in TELNET_PORTS:
        return PortFinding(protocol, port, "telnet", f"{TELNET_PORTS[key]}, plaintext remote login{said}")
    if key in KNOWN_DEBUG_SERVICES:
        return PortFinding(protocol, port, "debug", f"{KNOWN_DEBUG_SERVICES[key]}, a debug service{said}")
    if key not in declared:
        return PortFinding(protocol, port, "undeclared", "a listening service the profile does not declare")
    return None


def judge_open_ports(
    open_tcp: Iterable[int],
    open_udp: Iterable[int],
    declared: Iterable[DeclaredService],
    *,
    tcp_answered: int,
    udp_open_filtered: Iterable[int] = (),
    tcp_filtered: Iterable[int] = (),
    answering: Iterable[AnsweringService] = (),
) -> Outcome:
    """FAIL naming each telnet, debug or undeclared open port; INCONCLUSIVE when nothing answered.

    `tcp_answered` is how many TCP probes got any answer (SYN-ACK or RST): zero means the scan
    never reached the device, and an empty result would prove nothing. The details carry each
    failing port (`open_ports`: protocol, port, kind, detail) and what was noted but not judged
    (`notes`).
    """
    declared_by_port = {(d.protocol, int(d.port)): d for d in declared}
    if tcp_answered == 0:
        return Outcome.inconclusive(
            "the device answered none of the scan's TCP probes: it was not reached, so its ports are unknown",
            ["an answer to any of the scan's TCP probes"],
            details={"open_ports": [], "notes": []},
        )
    opened = sorted({("tcp", int(p)) for p in open_tcp} | {("udp", int(p)) for p in open_udp})
    identified = {service.port: service for service in answering}
    findings = [
        f
        for f in (
            _classify(proto, port, declared_by_port, identified.get(port) if proto == "tcp" else None)
            for proto, port in opened
        )
        if f
    ]
    notes = []
    unclear = sorted(int(p) for p in udp_open_filtered)
    if unclear:
        notes.append(f"UDP open|filtered (no answer, no ICMP; not judged): {unclear}")
    filtered = sorted(int(p) for p in tcp_filtered)
    if filtered:
        notes.append(
            f"TCP filtered (no answer after retries): {filtered[:20]}{' ...' if len(filtered) > 20 else ''}"
        )
    absent = sorted(f"{p}/{n}" for (p, n) in declared_by_port.keys() - set(opened))
    if absent:
        notes.append(f"declared but not listening: {absent}")
    details = {"open_ports": [asdict(f) for f in findings], "notes": notes}
    if findings:
        return Outcome.failed([str(f) for f in findings], details=details)
    listening = ", ".join(f"{p}/{n} ({declared_by_port[(p, n)].name})" for p, n in opened) or "none"
    return Outcome.passed(f"only declared services listen: {listening}", details=details)
