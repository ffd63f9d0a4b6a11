"""One syslog message as the lab's receiver (harness.lab.services.syslog) got it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyslogRecord:
    """One message as the lab received it."""

    received: float  # host time.time() when it arrived
    peer: str  # "ip:port" of the sender as the lab saw it
    transport: str  # "udp" | "tcp" | "tls"
    encrypted: bool
    syntax: str  # "rfc5424" | "rfc3164" | "unparsed"
    facility: str | None
    severity: str | None
    timestamp: str | None  # ISO 8601 as the device stated it (RFC 3164 gets the receiver's year)
    host: str | None
    app: str | None
    procid: str | None
    message: str
    raw: str

    def summary(self) -> str:
        when = self.timestamp or "no timestamp"
        return f"[{self.transport} {when} {self.host or '-'} {self.app or '-'}] {self.message[:160]}"
