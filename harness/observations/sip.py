"""What a device's SIP user agent answered to a request the lab sent straight to it
(harness.probes.sip makes it, harness.checks.sip judges it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DirectRequestOutcome:
    """What the device answered to one request the lab sent to it directly."""

    method: str
    transport: str
    target: str
    statuses: list[int] = field(default_factory=list)
    connection: str = "answered"  # "answered" | "refused" | "closed" | "silent"
    detail: str = ""
