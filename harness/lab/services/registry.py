"""Which lab services a device gets: chosen per device from what its profile declares.

Each service listens on the lab side of the device's network and tells an emulated reference
device where to find it through kernel command line words (`hilsec.NAME=HOST:PORT`); a bench
device is configured by the lab to send to the same addresses (the lab config's ports). Tests
reach a service by name: `device.lab_services["telemetry"]`. A new kind of lab server adds its
class to SERVICES; the services themselves import only harness.lab.services.base.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.lab.services.base import LabEndpoints, LabService
from harness.lab.services.sip_registrar import KamailioRegistrar
from harness.lab.services.syslog import SyslogService
from harness.lab.services.telemetry import TelemetryService
from harness.lab.services.update_checks import UpdateCheckServers
from harness.lab.services.update_server import UpdateServer

SERVICES: tuple[type, ...] = (
    TelemetryService,
    KamailioRegistrar,
    SyslogService,
    UpdateServer,
    UpdateCheckServers,
)


def lab_secrets() -> list[str]:
    """The lab services' own secrets (a registrar's test account password), redacted like a
    profile's passwords wherever they could reach evidence."""
    return [secret for service in SERVICES for secret in getattr(service, "SECRETS", ())]


def services_for(profile: Any) -> list[type]:
    """The service classes this device needs, in start order."""
    return [service for service in SERVICES if service.wanted(profile)]


def start_services(profile: Any, workdir: Path, endpoints: LabEndpoints) -> dict[str, LabService]:
    """Start every service the device needs on the lab side; on a failure stop those started."""
    started: dict[str, LabService] = {}
    try:
        for cls in services_for(profile):
            service = cls()
            with endpoints.side.entered():
                service.start(workdir, endpoints)
            started[service.name] = service
    except BaseException:
        stop_services(started)
        raise
    return started


def stop_services(services: dict[str, LabService]) -> None:
    for service in reversed(list(services.values())):
        service.stop()
    services.clear()


__all__ = [
    "SERVICES",
    "LabEndpoints",
    "LabService",
    "lab_secrets",
    "services_for",
    "start_services",
    "stop_services",
]
