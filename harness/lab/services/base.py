"""What every lab service is given and offers; the services import this, never the registry.

A service listens on the lab side of the device's network (`endpoints.side`), on the port the
lab config names for it (`endpoints.port(...)`: 0 lets the OS pick, which suits an emulated
device told at boot where to send), and hands an emulated reference image its whereabouts as
kernel command line words (`boot_arguments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.lab.side import LabSide


@dataclass(frozen=True)
class LabEndpoints:
    """Where lab servers listen, the address the device uses to reach them, and on which side."""

    bind_address: str
    device_facing_address: str
    side: LabSide = field(default_factory=LabSide)
    ports: Mapping[str, int] = field(default_factory=dict)  # lab config servers.*_port, by name
    tls_certificate: Path | None = None  # the lab's own certificate and key, when the lab has one
    tls_key: Path | None = None

    def port(self, name: str) -> int:
        """The configured port `name` (e.g. "syslog_udp_port"), or 0: any free port."""
        return int(self.ports.get(name, 0))


class LabService(Protocol):
    name: str

    @classmethod
    def wanted(cls, profile: Any) -> bool:
        """Whether this device needs the service (a device that declares no SIP gets no registrar)."""
        ...

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None: ...

    def stop(self) -> None: ...

    def boot_arguments(self) -> list[str]:
        """Kernel command line words that point a reference image at this service."""
        ...
