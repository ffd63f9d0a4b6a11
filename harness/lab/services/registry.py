"""Lab-side services a device uses during a run, started before it boots and stopped after.

Each service listens on the lab side of the device's network and tells an emulated reference
device where to find it through kernel command line words (`hilsec.NAME=HOST:PORT`); a real
device is pointed at the same addresses by the lab. Tests reach a service by name:
`device.lab_services["telemetry"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.lab.services.sip_registrar import KamailioRegistrar
from harness.lab.services.syslog import SyslogService
from harness.lab.services.telemetry_peers import DtlsPeer, UdpSink, free_port
from harness.lab.services.update_checks import UpdateCheckServers
from harness.lab.services.update_server import UpdateServer

TELEMETRY_INTERVAL_S = 5


@dataclass(frozen=True)
class LabEndpoints:
    """Where lab servers listen, and the address the device uses to reach them."""

    bind_address: str
    device_facing_address: str


# QEMU user-mode networking: the guest reaches the host's loopback at 10.0.2.2.
USER_MODE_ENDPOINTS = LabEndpoints(bind_address="127.0.0.1", device_facing_address="10.0.2.2")


class LabService(Protocol):
    name: str

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None: ...

    def stop(self) -> None: ...

    def boot_arguments(self) -> list[str]:
        """Kernel command line words that point a reference image at this service."""
        ...


class TelemetryService:
    """The far end of the device's telemetry: a real openssl DTLS peer and a plaintext UDP sink."""

    name = "telemetry"

    def __init__(self) -> None:
        self.dtls: DtlsPeer | None = None
        self.plain: UdpSink | None = None
        self._facing = ""

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None:
        bind = endpoints.bind_address
        self.dtls = DtlsPeer(free_port("udp", bind), workdir, host=bind)
        self.plain = UdpSink(free_port("udp", bind), workdir, host=bind)
        self.dtls.start()
        self.plain.start()
        self._facing = endpoints.device_facing_address

    def stop(self) -> None:
        for peer in (self.dtls, self.plain):
            if peer is not None:
                peer.stop()

    def boot_arguments(self) -> list[str]:
        assert self.dtls is not None and self.plain is not None
        return [
            f"hilsec.telemetry={self._facing}:{self.dtls.port}",
            f"hilsec.telemetry_plain={self._facing}:{self.plain.port}",
            f"hilsec.interval={TELEMETRY_INTERVAL_S}",
        ]


# Every service a run starts; a new kind of lab server adds its factory here.
LAB_SERVICE_FACTORIES: list[Callable[[], LabService]] = [TelemetryService, KamailioRegistrar]
LAB_SERVICE_FACTORIES.append(SyslogService)
LAB_SERVICE_FACTORIES.append(UpdateServer)
LAB_SERVICE_FACTORIES.append(UpdateCheckServers)
