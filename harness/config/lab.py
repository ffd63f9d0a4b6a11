"""The lab config: what is attached where on one bench (QEMU, servers, serial ports, capture, power)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.config.base import (
    Count,
    ExistingFile,
    NonEmptyStr,
    Port,
    ResolvedPath,
    Seconds,
    StrictModel,
    problem,
)
from harness.config.cell import CellSettings
from harness.config.profile import SerialConsole


class QemuSettings(StrictModel):
    """How QEMU runs emulated devices on this bench."""

    accel: Literal["auto", "tcg", "kvm"] = Field("auto", description="auto, tcg or kvm")
    memory_mb: Count = Field(
        256, ge=64, le=1_048_576, description="an amount of guest memory in MiB, from 64 to 1048576"
    )
    boot_timeout_s: Seconds = Field(90.0, gt=0, description="a positive number of seconds (up to 86400)")


# Every port a lab service can listen on, with its transport. A port left out is picked by the OS
# (fine for an emulated device, which is told where to send at boot); a bench device is configured
# to send to fixed ports, so its lab config names them.
LAB_PORTS: dict[str, str] = {
    "telemetry_dtls_port": "udp",
    "telemetry_plain_port": "udp",
    "syslog_udp_port": "udp",
    "syslog_tcp_port": "tcp",
    "syslog_tls_port": "tcp",
    "update_http_port": "tcp",
    "update_check_operator_port": "tcp",
    "update_check_manufacturer_port": "tcp",
    "sip_udp_port": "udp",
    "sip_tcp_port": "tcp",
    "sip_tls_port": "tcp",
}


def _port_field(name: str) -> Any:
    service = name.removesuffix("_port").replace("_", " ")
    return Field(
        None, description=f"the {LAB_PORTS[name].upper()} port of the lab's {service} server (1-65535)"
    )


class ServerSettings(StrictModel):
    """The harness's own servers the device talks to: where they listen and where the device sends."""

    bind_address: str | None = Field(
        None,
        description="the lab host address the servers listen on (default: the lab network's address, "
        "or 127.0.0.1 for QEMU user-mode networking)",
    )
    device_facing_address: str | None = Field(
        None, description="the address a bench device is configured to send to (default: bind_address)"
    )
    tls_certificate: ExistingFile | None = Field(
        None, description="the lab servers' TLS certificate (PEM) a bench device pins (with tls_key)"
    )
    tls_key: ExistingFile | None = Field(None, description="the private key (PEM) of tls_certificate")
    telemetry_dtls_port: Port | None = _port_field("telemetry_dtls_port")
    telemetry_plain_port: Port | None = _port_field("telemetry_plain_port")
    syslog_udp_port: Port | None = _port_field("syslog_udp_port")
    syslog_tcp_port: Port | None = _port_field("syslog_tcp_port")
    syslog_tls_port: Port | None = _port_field("syslog_tls_port")
    update_http_port: Port | None = _port_field("update_http_port")
    update_check_operator_port: Port | None = _port_field("update_check_operator_port")
    update_check_manufacturer_port: Port | None = _port_field("update_check_manufacturer_port")
    sip_udp_port: Port | None = _port_field("sip_udp_port")
    sip_tcp_port: Port | None = _port_field("sip_tcp_port")
    sip_tls_port: Port | None = _port_field("sip_tls_port")

    @model_validator(mode="after")
    def _distinct_ports(self) -> ServerSettings:
        seen: dict[tuple[str, int], str] = {}
        for name, transport in LAB_PORTS.items():
            port = getattr(self, name)
            if port is None:
                continue
            if (transport, port) in seen:
                other = seen[(transport, port)]
                raise problem(
                    f"{name} and {other} are both {transport.upper()} port {port}",
                    f"distinct {transport.upper()} ports",
                )
            seen[(transport, port)] = name
        return self

    @model_validator(mode="after")
    def _certificate_with_key(self) -> ServerSettings:
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise problem("tls_certificate and tls_key go together", "both or neither")
        return self

    def ports(self) -> dict[str, int]:
        """The configured ports by service port name (`syslog_udp_port` -> 5514); unset ones left out."""
        return {name: int(getattr(self, name)) for name in LAB_PORTS if getattr(self, name) is not None}


class Timeouts(StrictModel):
    """Upper bounds on waits, in seconds."""

    command_s: Seconds = Field(30.0, gt=0, description="a positive number of seconds (up to 86400)")
    login_s: Seconds = Field(60.0, gt=0, description="a positive number of seconds (up to 86400)")
    lockout_s: Seconds = Field(
        60.0,
        ge=0,
        description="how long to wait for a login lockout to end before power-cycling (0 to 86400 s)",
        le=86400,
    )


class CaptureSettings(StrictModel):
    """Where the device's packets are captured: QEMU's filter-dump, or a host interface."""

    method: Literal["qemu-filter-dump", "interface", "none"] = Field(
        "qemu-filter-dump", description="qemu-filter-dump, interface or none"
    )
    interface: str | None = Field(None, description="a network interface name such as eth1")
    tool: Literal["auto", "dumpcap", "tcpdump"] = Field(
        "auto", description="auto (dumpcap, else tcpdump), dumpcap or tcpdump: what captures on the interface"
    )

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
    """How the lab reaches the device's network.

    An emulated device gets a lab namespace the harness builds and sees all of (`mode`), or QEMU
    user mode. A bench device is on the lab LAN, which is the host's own network or the existing
    namespace `namespace` names.
    """

    mode: Literal["auto", "namespace", "user"] = Field(
        "auto", description="auto (namespace when root and iproute2 work, else user), namespace or user"
    )
    subnet: str = Field(
        "10.0.2.0/24",
        description="an IPv4 subnet of /27 or larger for the lab namespace (lab .2, device .15)",
    )
    namespace: str | None = Field(
        None,
        description="bench devices: the existing network namespace the lab LAN is in (lab servers, "
        "scans and captures run there); default: the lab host's own network",
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


class PowerCommands(StrictModel):
    """A bench device's power by shell commands: a PDU, `uhubctl`, a relay, `sispmctl`."""

    on: NonEmptyStr = Field(description="a shell command that switches the device on")
    off: NonEmptyStr = Field(description="a shell command that switches the device off")
    cycle: str | None = Field(
        None, description="a shell command that power-cycles the device (default: off, wait, on)"
    )
    off_seconds: Seconds = Field(
        2.0, ge=0, le=600, description="seconds to stay off between off and on (0 to 600)"
    )
    timeout_s: Seconds = Field(30.0, gt=0, le=3600, description="seconds one command may take (up to 3600)")


class LinkCommands(StrictModel):
    """A bench device's network link by shell commands: a switch port, a relay, a modem detach."""

    down: NonEmptyStr = Field(description="a shell command that cuts the device's network link")
    up: NonEmptyStr = Field(description="a shell command that gives the device its network link back")
    timeout_s: Seconds = Field(30.0, gt=0, le=3600, description="seconds one command may take (up to 3600)")


class BootMediaCommands(StrictModel):
    """How the bench writes the image a board boots next (a flash programmer, an SD mux, a TFTP root)."""

    write: str = Field(
        pattern=r"\{image\}",
        description="a shell command with {image} (the file to write), run while the board is off",
    )
    timeout_s: float = Field(60.0, gt=0, le=3600, description="seconds one write may take (up to 3600)")


class SigningSettings(StrictModel):
    """The lab's key that signs each report's manifest (REPORT_DIR/SHA256SUMS.sig)."""

    key: ExistingFile = Field(
        description="an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519 -out FILE)"
    )

    @field_validator("key")
    @classmethod
    def _ed25519_key(cls, value: Path) -> Path:
        from harness.errors import ConfigError
        from harness.report.signing import load_signing_key

        try:
            load_signing_key(value)
        except ConfigError as err:
            raise problem(err.problem, err.expected) from None
        return value


_LABGRID_NAME = r"[A-Za-z0-9_.-]+"  # labgrid's place names and tag keys/values (its TAG_KEY, TAG_VAL)


class LabgridSettings(StrictModel):
    """A board on another host: a labgrid coordinator and the place (or tags of any place) to use.

    The console is the place's NetworkSerialPort (an exporter's ser2net), the power its power
    resource (`labgrid-client power`); the place is acquired for the run and released after it.
    """

    coordinator: NonEmptyStr = Field(
        pattern=r"^[A-Za-z0-9_.:\[\]-]+:[0-9]{1,5}$",
        description="the labgrid coordinator's gRPC address as HOST:PORT (labgrid's default port is 20408)",
    )
    place: str | None = Field(
        None,
        pattern=f"^{_LABGRID_NAME}$",
        description="the name of the place to acquire (letters, digits, _ . -)",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="tags a place must carry (KEY: VALUE), to reserve any matching place instead of one by name",
    )
    power: bool = Field(
        True, description="switch the board by the place's power resource (false: the place has none)"
    )
    timeout_s: Seconds = Field(
        30.0, gt=0, le=600, description="seconds one labgrid-client command may take (up to 600)"
    )

    @field_validator("tags")
    @classmethod
    def _tag_words(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]+", key) or not re.fullmatch(_LABGRID_NAME, tag):
                raise problem(
                    f"tag {key}: {tag!r} is not a labgrid tag",
                    "keys of two or more lower-case letters, digits and _ (starting with a letter); values of letters, digits, _ . -",
                )
        return value

    @model_validator(mode="after")
    def _place_or_tags(self) -> LabgridSettings:
        if (self.place is None) == (not self.tags):
            what = "both place and tags" if self.place else "neither place nor tags"
            raise problem(f"{what} given", "exactly one of place: NAME or tags: {KEY: VALUE}")
        return self


class PoolDevice(StrictModel):
    """One device of the lab's pool: its own profile (console, address) and its own power switch.

    With `pytest -n N` each worker holds one pool device exclusively and runs every selected test
    on it; a plain session takes the first free one.
    """

    name: NonEmptyStr = Field(description="a name for the device, unique in the pool (its report section)")
    profile: ExistingFile | None = Field(
        None, description="the device's own profile (YAML); default: the run's --device-profile"
    )
    power: PowerCommands | None = Field(None, description="this device's power commands (on, off, cycle)")
    serial_ports: dict[str, SerialConsole] = Field(
        default_factory=dict, description="this device's named serial ports, over the lab's"
    )
    labgrid: LabgridSettings | None = Field(
        None, description="this device's labgrid place: {coordinator, place} or {coordinator, tags}"
    )


class LabConfig(StrictModel):
    """One bench: QEMU, servers, timeouts, serial ports, capture, network and power.

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
    power: PowerCommands | None = Field(
        None, description="a mapping with on, off and optional cycle commands"
    )
    link: LinkCommands | None = Field(
        None, description="a mapping with down and up commands that cut and restore the device's network"
    )
    boot_media: BootMediaCommands | None = Field(
        None, description="a mapping with the write command ({image}) for the board's boot image"
    )
    cell: CellSettings | None = Field(
        None, description="a mapping with backend (osmocom, amarisoft, callbox) and its settings"
    )
    signing: SigningSettings | None = Field(None, description="a mapping with key: an Ed25519 key file")
    pool: list[PoolDevice] = Field(
        default_factory=list, description="a list of devices ({name, profile, power, serial_ports, labgrid})"
    )
    labgrid: LabgridSettings | None = Field(
        None, description="a labgrid place the board is on: {coordinator: HOST:PORT, place: NAME} or tags"
    )
    locks_dir: ResolvedPath | None = Field(
        None, description="where device lock files live (default /run/lock/hilsec or /tmp/hilsec-locks)"
    )

    @model_validator(mode="after")
    def _pool_names_unique(self) -> LabConfig:
        names = [device.name for device in self.pool]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise problem(f"pool lists device {twice[0]!r} twice", "a distinct name for each pool device")
        return self
