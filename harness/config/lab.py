"""The lab config: what is attached where on one bench (QEMU, servers, serial ports, capture)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.config.base import NonEmptyStr, Port, ResolvedPath, StrictModel, problem
from harness.config.profile import SerialConsole


class QemuSettings(StrictModel):
    """How QEMU runs emulated devices on this bench."""

    accel: Literal["auto", "tcg", "kvm"] = Field("auto", description="auto, tcg or kvm")
    memory_mb: int = Field(256, ge=64, description="an amount of guest memory in MiB, at least 64")
    boot_timeout_s: float = Field(90.0, gt=0, description="a positive number of seconds")


class ServerSettings(StrictModel):
    """The harness's own servers the device talks to."""

    bind_address: str = Field("127.0.0.1", description="the host address the servers listen on")
    device_facing_address: str | None = Field(
        None, description="the address devices use to reach the servers (QEMU guests: 10.0.2.2)"
    )
    telemetry_dtls_port: Port = 5684
    telemetry_plain_port: Port = 5683
    syslog_port: Port = 5514
    update_http_port: Port = 8080

    @model_validator(mode="after")
    def _distinct_udp_ports(self) -> ServerSettings:
        udp = {
            "telemetry_dtls_port": self.telemetry_dtls_port,
            "telemetry_plain_port": self.telemetry_plain_port,
            "syslog_port": self.syslog_port,
        }
        seen: dict[int, str] = {}
        for name, port in udp.items():
            if port in seen:
                raise problem(f"{name} and {seen[port]} are both UDP port {port}", "distinct UDP ports")
            seen[port] = name
        return self


class Timeouts(StrictModel):
    """Upper bounds on waits, in seconds."""

    command_s: float = Field(30.0, gt=0, description="a positive number of seconds")
    login_s: float = Field(60.0, gt=0, description="a positive number of seconds")


class CaptureSettings(StrictModel):
    """Where the device's packets are captured: QEMU's filter-dump, or a host interface."""

    method: Literal["qemu-filter-dump", "interface", "none"] = Field(
        "qemu-filter-dump", description="qemu-filter-dump, interface or none"
    )
    interface: str | None = Field(None, description="a network interface name such as eth1")

    @model_validator(mode="before")
    @classmethod
    def _interface_implies_method(cls, data: object) -> object:
        if isinstance(data, dict) and "interface" in data and "method" not in data:
            return {**data, "method": "interface"}
        return data

    @model_validator(mode="after")
    def _interface_named(self) -> CaptureSettings:
        if self.method == "interface" and not self.interface:
            raise problem("capture method 'interface' without an interface name", "interface: NAME")
        if self.method != "interface" and self.interface:
            raise problem(f"interface given with method {self.method!r}", "method: interface")
        return self


class LabNetworkSettings(StrictModel):
    """How an emulated device is networked: a lab namespace the harness sees all of, or QEMU user mode."""

    mode: Literal["auto", "namespace", "user"] = Field(
        "auto", description="auto (namespace when root and iproute2 work, else user), namespace or user"
    )
    subnet: str = Field(
        "10.0.2.0/24",
        description="an IPv4 subnet of /27 or larger for the lab namespace (lab .2, device .15)",
    )

    @field_validator("subnet")
    @classmethod
    def _usable_subnet(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as err:
            raise problem(
                f"{value!r} is not an IPv4 subnet ({err})", "a subnet such as 192.0.2.0/24"
            ) from err
        if network.prefixlen > 27:
            raise problem(f"{value} is smaller than a /27", "a /27 or larger subnet")
        return value


class LabgridSettings(StrictModel):
    """A board shared through a labgrid coordinator."""

    coordinator: NonEmptyStr = Field(description="the coordinator's address as HOST:PORT")
    place: NonEmptyStr = Field(description="the labgrid place name")


class LabConfig(StrictModel):
    """One bench: QEMU, servers, timeouts, serial ports, capture and optional labgrid.

    `LabConfig()` is the built-in bench (local QEMU, servers on loopback) used without --lab-config.
    """

    kind: Literal["lab-config"] | None = Field(None, description="lab-config")
    name: NonEmptyStr = Field("built-in defaults", description="a short name for the bench")
    qemu: QemuSettings = Field(default_factory=QemuSettings, description="a mapping")
    image_cache: ResolvedPath = Field(
        Path("~/.cache/hilsec/images"), validate_default=True, description="a folder for built images"
    )
    servers: ServerSettings = Field(default_factory=ServerSettings, description="a mapping")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="a mapping")
    serial_ports: dict[str, SerialConsole] = Field(
        default_factory=dict, description="a mapping from a port name to {url, baudrate}"
    )
    capture: CaptureSettings = Field(default_factory=CaptureSettings, description="a mapping")
    network: LabNetworkSettings = Field(default_factory=LabNetworkSettings, description="a mapping")
    labgrid: LabgridSettings | None = Field(None, description="a mapping with coordinator and place")
