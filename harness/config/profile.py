"""The device profile: what a device is and how to reach it (the lab's IXIT, in TS 103 701 terms).

A profile is copied into every report, so the password never appears in `repr()` or in
`model_dump()`; `DeviceProfile.secrets()` lists what transcripts must redact.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_serializer, field_validator, model_validator

from harness.config.base import (
    Count,
    ExistingFile,
    NonEmptyStr,
    Port,
    Regex,
    Seconds,
    StrictModel,
    closest,
    problem,
)
from harness.config.cellular import SmsConfiguration
from harness.util.text import MASK

# URL schemes pyserial's serial_for_url understands (besides plain device names).
SERIAL_URL_SCHEMES = ("rfc2217", "socket", "loop", "spy", "hwgrep", "alt", "cp2110")


CVE_PATTERN = re.compile(r"^CVE-\d{4}-\d{4,}$")


def validate_cve_ids(cves: list[str]) -> list[str]:
    """Every entry is a CVE ID (CVE-YYYY-NNNN...), for releases in profiles and update manifests."""
    for cve in cves:
        if not CVE_PATTERN.match(cve):
            raise problem(f"{cve!r} is not a CVE ID", "IDs of the form CVE-YYYY-NNNN")
    return cves


# --- declared update policy (evidence for FS.25's conceptual assessments) ---------------------


class Release(StrictModel):
    """One published software release, as the manufacturer declares it."""

    version: NonEmptyStr = Field(description="the release's version string")
    date: dt.date = Field(description="the release date as YYYY-MM-DD")
    security_only: bool = Field(False, description="true or false: the release only fixes security problems")
    cves: list[str] = Field(default_factory=list, description="a list of CVE IDs like CVE-2024-12345")
    notes: str = Field("", description="free text")
    feature_changes: list[str] = Field(
        default_factory=list,
        description="a list of the non-security changes (new features) the release carries",
    )
    labelled_security: bool | None = Field(
        None, description="true or false: users are told explicitly that this release is a security update"
    )
    operator_received: dt.date | None = Field(
        None, description="the date (YYYY-MM-DD) the operator received the release for testing"
    )
    operator_approved: dt.date | None = Field(
        None, description="the date (YYYY-MM-DD) the operator approved the release"
    )

    @field_validator("cves")
    @classmethod
    def _cve_ids(cls, cves: list[str]) -> list[str]:
        return validate_cve_ids(cves)

    @field_validator("operator_approved")
    @classmethod
    def _approval_after_receipt(cls, approved: dt.date | None, info: ValidationInfo) -> dt.date | None:
        received = info.data.get("operator_received")
        if approved and received and approved < received:
            raise problem(
                f"operator_approved {approved} is before operator_received {received}",
                "the approval on or after the day the operator received the release",
            )
        return approved


class RolloutStep(StrictModel):
    """One model in the order security updates are rolled out across the maker's range."""

    model: NonEmptyStr = Field(description="a model designation")
    installed_base: Count = Field(ge=0, description="the number of units of this model in use")


class UpdatePolicy(StrictModel):
    """What the manufacturer promises about updates (FS.25 SSU-SEC/COM/TES evidence)."""

    security_update_cadence_days: Count | None = Field(
        None, gt=0, description="a positive number of days between security updates"
    )
    support_period_months: Count | None = Field(
        None, gt=0, description="a positive number of months of security support from launch"
    )
    release_history: list[Release] = Field(default_factory=list, description="a list of releases")
    update_manifest: ExistingFile | None = Field(None, description="the path of an update manifest file")
    notification_channels: list[Literal["device", "website", "other"]] = Field(
        default_factory=list, description="a list of device, website, other"
    )
    security_bulletin_url: str | None = Field(None, description="a URL where update contents are published")
    support_period_url: str | None = Field(None, description="a URL where the support period is published")
    patch_level_command: str | None = Field(
        None, description="a shell command on the device that prints its security patch level"
    )
    replaceable: bool | None = Field(
        None, description="true or false: the device can be replaced when unsupported"
    )
    rollout_order: list[RolloutStep] = Field(
        default_factory=list,
        description="a list of {model, installed_base}: the order security updates reach the models",
    )
    operator_update_server: str | None = Field(None, description="the operator's update server URL")
    manufacturer_update_server: str | None = Field(None, description="the manufacturer's update server URL")
    automatic_check_interval_s: Count | None = Field(
        None,
        gt=0,
        le=86_400,
        description="seconds (1 to 86400) between the device's own update checks, unasked, after boot",
    )


# --- console ----------------------------------------------------------------------------------


def _pyserial_url(url: str | None) -> str | None:
    if url is not None and "://" in url:
        scheme = url.split("://", 1)[0]
        if scheme not in SERIAL_URL_SCHEMES:
            raise problem(
                f"pyserial does not know the URL scheme {scheme!r}",
                "a device path or one of " + ", ".join(s + "://" for s in SERIAL_URL_SCHEMES),
            )
    return url


class SerialConsole(StrictModel):
    """A serial port: a device path (/dev/ttyUSB0, /dev/serial/by-id/...) or a pyserial URL."""

    url: NonEmptyStr = Field(description="a device like /dev/ttyUSB0 or a URL like rfc2217://host:port")
    baudrate: Count = Field(115200, gt=0, le=20_000_000, description="a positive baud rate such as 115200")

    _check_url = field_validator("url")(_pyserial_url)


class SerialAttachment(StrictModel):
    """A device's serial port, given here (`url`) or by its name in the lab config (`port`)."""

    url: str | None = Field(
        None, min_length=1, description="a device like /dev/ttyUSB0 or a URL like rfc2217://host:port"
    )
    port: str | None = Field(
        None, min_length=1, description="the name of a port in the lab config's serial_ports"
    )
    baudrate: Count | None = Field(
        None, gt=0, le=20_000_000, description="a positive baud rate such as 115200 (default 115200)"
    )

    _check_url = field_validator("url")(_pyserial_url)

    @model_validator(mode="after")
    def _url_or_port(self) -> SerialAttachment:
        if (self.url is None) == (self.port is None):
            raise problem("serial names both or neither of url and port", "exactly one of url or port")
        return self


class QemuConsole(StrictModel):
    """A device emulated in QEMU: the reference image, a kernel + initrd, or a disk image."""

    reference_image: Literal["hardened", "vulnerable"] | None = Field(
        None, description="hardened or vulnerable (the reference firmware)"
    )
    weaknesses: list[NonEmptyStr] | None = Field(
        None,
        description="with reference_image: build the reference firmware with exactly these weakness knobs "
        "(see `hilsec image build --help`)",
    )
    hardening: list[NonEmptyStr] | None = Field(
        None,
        description="with reference_image: add these hardening knobs, e.g. [console-lockout] "
        "(see `hilsec image build --help`)",
    )
    kernel: ExistingFile | None = Field(None, description="the path of a kernel image")
    initrd: ExistingFile | None = Field(None, description="the path of an initrd")
    append: str | None = Field(None, description="the kernel command line")
    disk: ExistingFile | None = Field(None, description="the path of a disk image")

    @model_validator(mode="after")
    def _one_boot_source(self) -> QemuConsole:
        chosen = [name for name in ("reference_image", "kernel", "disk") if getattr(self, name) is not None]
        forms = "exactly one of reference_image, kernel (with optional initrd and append) or disk"
        if len(chosen) != 1:
            what = "none" if not chosen else " and ".join(chosen)
            raise problem(f"qemu console names {what}", forms)
        if self.kernel is None and (self.initrd is not None or self.append is not None):
            raise problem("initrd and append need a kernel", forms)
        if self.weaknesses is not None:
            from harness.emulation.variants import WEAKNESSES

            if self.reference_image is None:
                raise problem(
                    "weaknesses apply to the reference image only", "reference_image with weaknesses"
                )
            unknown = sorted(set(self.weaknesses) - WEAKNESSES.keys())
            if unknown:
                raise problem(f"unknown weakness {', '.join(unknown)}", "any of " + ", ".join(WEAKNESSES))
        if self.hardening is not None:
            from harness.emulation.variants import HARDENINGS

            if self.reference_image is None:
                raise problem(
                    "hardening applies to the reference image only", "reference_image with hardening"
                )
            unknown = sorted(set(self.hardening) - HARDENINGS.keys())
            if unknown:
                raise problem(f"unknown hardening {', '.join(unknown)}", "any of " + ", ".join(HARDENINGS))
        return self

    @property
    def kind(self) -> str:
        """'reference_image', 'kernel' or 'disk': how this machine boots."""
        if self.reference_image is not None:
            return "reference_image"
        return "kernel" if self.kernel is not None else "disk"


class TelnetConsole(StrictModel):
    """A console behind a telnet port (ser2net, a terminal server)."""

    host: NonEmptyStr = Field(description="a host name or address")
    port: Port = 23


class SshConsole(StrictModel):
    """A shell reached over SSH (the `ssh` client on a pseudo-terminal); login from the profile."""

    host: NonEmptyStr = Field(description="a host name or address")
    port: Port = 22
    options: list[NonEmptyStr] = Field(
        default_factory=list,
        description="extra ssh -o options such as 'KexAlgorithms=+diffie-hellman-group14-sha1'",
    )


CONSOLE_KINDS = ("serial", "qemu", "telnet", "ssh")


class ConsoleSettings(StrictModel):
    """How the harness reaches the device's console: exactly one kind."""

    serial: SerialAttachment | None = Field(None, description="a mapping with url (or port) and baudrate")
    qemu: QemuConsole | None = Field(None, description="a mapping with reference_image, kernel or disk")
    telnet: TelnetConsole | None = Field(None, description="a mapping with host and port")
    ssh: SshConsole | None = Field(None, description="a mapping with host and port")

    @model_validator(mode="after")
    def _exactly_one(self) -> ConsoleSettings:
        chosen = [name for name in CONSOLE_KINDS if getattr(self, name) is not None]
        if len(chosen) != 1:
            what = "no console" if not chosen else "both " + " and ".join(chosen)
            raise problem(f"{what} given", "exactly one of " + ", ".join(CONSOLE_KINDS))
        return self

    @property
    def kind(self) -> str:
        """'serial', 'qemu', 'telnet' or 'ssh'."""
        return next(name for name in CONSOLE_KINDS if getattr(self, name) is not None)


# --- login, network, features -------------------------------------------------------------------


class LoginCredentials(StrictModel):
    """How to log in on the console; the prompts are regular expressions."""

    username: NonEmptyStr = Field(description="the login user name")
    password: str = Field(
        repr=False, description="the login password as a string (quote digits; may be empty)"
    )
    login_prompt: Regex = Field(r"login: ?$", description="a regular expression")
    password_prompt: Regex = Field(r"[Pp]assword: ?$", description="a regular expression")
    shell_prompt: Regex = Field(r"[#$] ?$", description="a regular expression")
    failure_pattern: Regex = Field(r"Login incorrect", description="a regular expression")
    lockout_seconds: Seconds | None = Field(
        None,
        ge=0,
        le=86400,
        description="how long the device locks a login out after repeated failures, as its maker declares",
    )

    @field_serializer("password")
    def _mask_password(self, password: str) -> str:
        return MASK


class SshCryptography(StrictModel):
    """The algorithms an SSH service may offer (TS 103 701 5.1-3-2a): anything else on the wire fails."""

    kex: list[NonEmptyStr] = Field(description="key-exchange algorithms, e.g. curve25519-sha256")
    host_key: list[NonEmptyStr] = Field(description="host-key algorithms, e.g. ssh-ed25519")
    ciphers: list[NonEmptyStr] = Field(description="ciphers, e.g. aes256-ctr")
    macs: list[NonEmptyStr] = Field(description="MACs, e.g. hmac-sha2-256")


class Service(StrictModel):
    """A network service the device is meant to expose."""

    name: NonEmptyStr = Field(description="a short name such as ssh")
    protocol: Literal["tcp", "udp"] = Field(description="tcp or udp")
    port: Port
    login: Literal["ssh", "telnet", "none"] = Field("none", description="ssh, telnet or none")
    cryptography: SshCryptography | None = Field(
        None, description="the algorithms this SSH service may offer (compared with the wire)"
    )


class NetworkInterface(StrictModel):
    """A network interface the maker declares, and its state once the device is initialised."""

    name: NonEmptyStr = Field(
        max_length=15,
        pattern=r"^[A-Za-z0-9_.@-]+$",
        description="the interface's name on the device, e.g. eth0",
    )
    kind: Literal[
        "ethernet", "wifi", "cellular", "usb", "bluetooth", "bridge", "vlan", "virtual", "other"
    ] = Field("other", description="ethernet, wifi, cellular, usb, bluetooth, bridge, vlan, virtual or other")
    state: Literal["up", "down", "absent"] = Field(
        description="up (enabled), down (present but disabled) or absent (not on the device)"
    )


class NetworkSettings(StrictModel):
    """Where the device is on the network and which services it is meant to expose."""

    address: str | None = Field(None, description="the device's IP address or host name (real devices)")
    services: list[Service] = Field(default_factory=list, description="a list of services")
    interfaces: list[NetworkInterface] | None = Field(
        None,
        description="the network interfaces (loopback aside) and their state in the initialised state, "
        "e.g. [{name: eth0, kind: ethernet, state: up}]; omitted = undeclared",
    )
    undeclared_interfaces_allowed: bool = Field(
        False,
        description="true or false: interfaces other than those listed may exist on the device (disabled)",
    )

    @field_validator("interfaces")
    @classmethod
    def _unique_interfaces(cls, interfaces: list[NetworkInterface] | None) -> list[NetworkInterface] | None:
        names = [interface.name for interface in interfaces or []]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise problem(f"interface {twice[0]} is listed twice", "each interface name once")
        return interfaces

    @field_validator("services")
    @classmethod
    def _unique_ports(cls, services: list[Service]) -> list[Service]:
        seen: set[tuple[str, int]] = set()
        for service in services:
            key = (service.protocol, service.port)
            if key in seen:
                raise problem(f"{service.protocol}/{service.port} is listed twice", "each protocol/port once")
            seen.add(key)
        return services


FeatureValue = bool | str | None


def _feature(what: str) -> Any:
    return Field(None, description=f"true, false, or a string naming the kind of {what}")


class Features(StrictModel):
    """What the device has. true/false, or a string naming the kind (e.g. `secure_boot: uefi`).

    Only features a test acts on are keys (tests/test_config_readers.py checks each has a reader):
    a declaration that changes nothing would let a lab believe it had configured something.

    A feature left out is undeclared (None). A feature the device lacks may carry a reason in
    `reasons`, which becomes the NOT_APPLICABLE verdict's reason.
    """

    telnet: FeatureValue = _feature("telnet")
    ssh: FeatureValue = _feature("ssh")
    usb: FeatureValue = _feature("usb")
    cellular: FeatureValue = _feature("cellular")
    gsm: FeatureValue = _feature("gsm")
    sms: FeatureValue = _feature("sms")
    sip: FeatureValue = _feature("sip")
    secure_boot: FeatureValue = _feature("secure boot")
    software_update: FeatureValue = _feature("software update")
    security_logging: FeatureValue = _feature("security logging")
    bootloader_console: FeatureValue = _feature("bootloader console")
    reasons: dict[str, str] = Field(
        default_factory=dict, description="a mapping from a feature name to why the device lacks it"
    )

    @classmethod
    def names(cls) -> list[str]:
        """Every feature a profile can declare."""
        return [name for name in cls.model_fields if name != "reasons"]

    @field_validator("reasons")
    @classmethod
    def _reasons_name_features(cls, reasons: dict[str, str]) -> dict[str, str]:
        names = cls.names()
        for name in reasons:
            if name not in names:
                hint = closest(name, names)
                expected = f"'{hint}'" if hint else "one of " + ", ".join(names)
                raise problem(f"reason given for unknown feature {name!r}", expected)
        return reasons

    def _value(self, feature: str) -> FeatureValue:
        if feature not in self.names():
            raise KeyError(f"unknown feature {feature!r}; known: {', '.join(self.names())}")
        return getattr(self, feature)

    def has(self, feature: str) -> bool | None:
        """True if present, False if declared absent, None if the profile does not say."""
        value = self._value(feature)
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip().lower() not in ("", "no", "none", "false", "absent")
        return value

    def kind(self, feature: str) -> str | None:
        """The string a feature was declared with (e.g. 'uefi'), or None."""
        value = self._value(feature)
        return value if isinstance(value, str) else None

    def absence_reason(self, feature: str) -> str | None:
        """Why the device lacks `feature` (for NOT_APPLICABLE), or None if it has it / is undeclared."""
        if self.has(feature) is not False:
            return None
        return self.reasons.get(feature, f"the device profile declares no {feature}")


class PlaintextAllowance(StrictModel):
    """A plaintext flow the manufacturer declares as intended, with the reason."""

    protocol: Literal["tcp", "udp"] = Field(description="tcp or udp")
    port: Port
    reason: NonEmptyStr = Field(description="why this flow may be plaintext")


class SecureCommunication(StrictModel):
    """How the secure-communication tests observe the device's traffic."""

    observation_seconds: Seconds = Field(20.0, gt=0, description="a positive number of seconds (up to 86400)")
    plaintext_allowed: list[PlaintextAllowance] = Field(
        default_factory=list, description="a list of {protocol, port, reason}"
    )


# --- cellular identity, modem and declared radio/SMS settings (FS38-GSM-*, FS38-SIP-*) ----------

RadioAccess = Literal["gsm", "gprs", "edge", "umts", "lte", "lte-m", "nb-iot", "nr"]


class ModemAccess(StrictModel):
    """How the harness sends AT commands to the device's cellular module: one of the two."""

    serial: SerialAttachment | None = Field(
        None, description="the module's AT port: a mapping with url (or port) and baudrate"
    )
    at_command: str | None = Field(
        None,
        description="a shell command on the device that sends its last argument as an AT command and prints "
        "the module's answer",
    )

    @model_validator(mode="after")
    def _one_way(self) -> ModemAccess:
        if (self.serial is None) == (self.at_command is None):
            raise problem("modem names both or neither of serial and at_command", "exactly one of them")
        return self


class CellularSettings(StrictModel):
    """The device's subscriber identities and what its maker declares about radio and SMS handling."""

    imsi: str | None = Field(None, pattern=r"^\d{14,15}$", description="the test SIM's IMSI (14-15 digits)")
    imei: str | None = Field(None, pattern=r"^\d{15}$", description="the device's IMEI (15 digits)")
    msisdn: str | None = Field(None, pattern=r"^\+?\d{5,15}$", description="the test SIM's phone number")
    ki: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{32}$", repr=False,
        description="the test SIM's 2G key (32 hex digits, COMP128v1), which the lab's test cell provisions",
    )  # fmt: skip
    modem: ModemAccess | None = Field(None, description="a mapping with serial or at_command")
    module: str | None = Field(
        None, description="the cellular module's profile (see harness/modems/profiles.py), e.g. quectel-bg96"
    )
    radio_access: list[RadioAccess] | None = Field(
        None, description="the radio access technologies the device is allowed to use, e.g. [lte-m, nb-iot]"
    )
    null_cipher_rejected: bool | None = Field(
        None, description="true or false: the module refuses unciphered (A5/0, EEA0) connections"
    )
    class0_sms_ignored: bool | None = Field(
        None,
        description="true or false: class-0 (flash) and type-0 (silent) SMS change nothing on the device",
    )
    ota_sms_authenticated: bool | None = Field(
        None,
        description="true or false: OTA/SIM-toolkit SMS are acted on only when authenticated "
        "(secured packets, 3GPP TS 31.115)",
    )
    sms_configuration_accepted: bool | None = Field(
        None, description="true or false: the application changes its configuration from SMS content"
    )
    sms_configuration: SmsConfiguration | None = Field(
        None, description="a mapping: the configuration SMS the application understands and show_command"
    )

    @field_serializer("ki")
    def _mask_ki(self, ki: str | None) -> str | None:
        return MASK if ki else ki

    @field_validator("module")
    @classmethod
    def _known_module(cls, module: str | None) -> str | None:
        from harness.modems.profiles import PROFILES

        if module is not None and module not in PROFILES:
            raise problem(f"unknown module {module!r}", "one of " + ", ".join(PROFILES))
        return module


# --- secure boot (FS38-02) -----------------------------------------------------------------------


class SecureBootSettings(StrictModel):
    """How the harness exercises secure boot.

    `uefi-ovmf`: the platform is emulated with OVMF; the harness boots Debian's signed shim, GRUB
    and kernel and images whose signature does not verify, with Secure Boot enforced (`enforce:
    true`, Microsoft keys enrolled) or not. `declared`: a real board whose maker declares the
    mechanism, its root of trust and the test evidence (a conceptual assessment).
    """

    method: Literal["uefi-ovmf", "u-boot-fit", "declared"] = Field(
        description="uefi-ovmf, u-boot-fit or declared"
    )
    enforce: bool | None = Field(
        None, description="uefi-ovmf: true (Secure Boot keys enrolled and enforced) or false"
    )
    initrd: ExistingFile | None = Field(
        None,
        description="uefi-ovmf: the initrd to boot (default: the reference image's or console.qemu.initrd)",
    )
    boot_timeout_s: Seconds = Field(40.0, gt=0, description="uefi-ovmf: seconds one boot attempt may take")
    mechanism: str | None = Field(None, description="declared: e.g. 'U-Boot FIT signature verification'")
    root_of_trust: str | None = Field(
        None, description="declared: where the verification key lives (OTP, ROM)"
    )
    evidence: list[ExistingFile] = Field(
        default_factory=list, description="declared: files showing an unsigned image is refused"
    )
    # The device's own UEFI chain (uefi-ovmf): each named file replaces Debian's in the boots.
    firmware: ExistingFile | None = Field(
        None, description="uefi-ovmf: the device's UEFI firmware code (pflash)"
    )
    variables: ExistingFile | None = Field(
        None, description="uefi-ovmf: the device's UEFI variable store (its enrolled keys)"
    )
    loader: ExistingFile | None = Field(
        None, description="uefi-ovmf: the device's first boot loader (BOOTX64.EFI)"
    )
    stage2: ExistingFile | None = Field(
        None, description="uefi-ovmf: the second stage the loader starts (grubx64.efi)"
    )
    kernel: ExistingFile | None = Field(None, description="uefi-ovmf: the device's signed kernel")
    # A U-Boot board's verified boot (u-boot-fit): the bench writes each FIT (lab config boot_media).
    fit_image: ExistingFile | None = Field(None, description="u-boot-fit: the device's own signed FIT image")

    @model_validator(mode="after")
    def _enforce_for_ovmf(self) -> SecureBootSettings:
        if self.method == "uefi-ovmf" and self.enforce is None:
            raise problem("method uefi-ovmf needs enforce", "enforce: true or enforce: false")
        if self.method == "u-boot-fit" and self.fit_image is None:
            raise problem(
                "method u-boot-fit needs fit_image", "fit_image: the device's signed FIT image file"
            )
        return self


# --- maker-supplied update packages (FS38-03 on a device the harness did not build) -----------------


class MakerPackage(StrictModel):
    """An update package as its maker hands it to the lab, and the version it installs."""

    file: ExistingFile = Field(description="the path of the package file")
    version: NonEmptyStr = Field(description="the version the device reports once this package is installed")


class HttpUpload(StrictModel):
    """The device's own update endpoint: the package is sent as the request body."""

    port: Port
    path: str = Field("/", pattern=r"^/", description="the endpoint's path, starting with /")
    method: Literal["POST", "PUT"] = Field("POST", description="POST or PUT")
    scheme: Literal["http", "https"] = Field("http", description="http or https (certificate not checked)")


class HttpFetchRequest(StrictModel):
    """A request to the device that tells it the URL (on the lab's update server) to fetch."""

    port: Port
    path: str = Field(
        pattern=r"^/.*\{url\}", description="a path starting with / containing {url}, e.g. /update?url={url}"
    )
    method: Literal["GET", "POST"] = Field("GET", description="GET or POST")
    scheme: Literal["http", "https"] = Field("http", description="http or https (certificate not checked)")


class UpdateDelivery(StrictModel):
    """How the device takes an update: exactly one way."""

    console_command: str | None = Field(
        None,
        pattern=r"\{url\}",
        description="a shell command run on the device's console, with {url} for the package's URL on the lab's update server",
    )
    http_upload: HttpUpload | None = Field(None, description="a mapping with port, path and method")
    http_fetch: HttpFetchRequest | None = Field(
        None, description="a mapping with port, path ({url}) and method"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> UpdateDelivery:
        given = [name for name in ("console_command", "http_upload", "http_fetch") if getattr(self, name)]
        if len(given) != 1:
            raise problem(
                f"{len(given)} delivery ways given ({', '.join(given) or 'none'})",
                "exactly one of console_command, http_upload or http_fetch",
            )
        return self


class VersionQuery(StrictModel):
    """How the device reports the version it runs: a console command and a pattern with one group."""

    command: NonEmptyStr = Field(description="a shell command run on the device's console")
    pattern: Regex = Field(description="a regular expression whose first group is the version")

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, pattern: str) -> str:
        if re.compile(pattern).groups < 1:
            raise problem("the pattern has no group", "a regular expression such as 'version=(\\S+)'")
        return pattern


class UpdatesSettings(StrictModel):
    """The maker's packages for the signed-update tests; invalid ones are derived from `valid`."""

    valid: MakerPackage = Field(description="a mapping with file and version: a valid, newer signed package")
    older: MakerPackage | None = Field(
        None, description="a mapping with file and version: a valid package older than the running one"
    )
    delivery: UpdateDelivery = Field(description="a mapping with console_command, http_upload or http_fetch")
    version: VersionQuery = Field(description="a mapping with command and pattern")
    log_command: str = Field(
        "(cat /var/log/messages; logread) 2>/dev/null",
        description="a shell command that prints the device's log (searched for the package's name)",
    )
    install_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="seconds one delivery may take (up to 3600)"
    )


# --- USB and bootloader (FS38-05 debug interfaces) -------------------------------------------------


def _usb_id(value: str | int) -> int:
    if isinstance(value, bool):
        raise problem(f"{value!r} is not a USB ID", "four hex digits such as '2c7c'")
    if isinstance(value, int):
        number = value
    else:
        text = value.lower().removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{1,4}", text):
            raise problem(f"{value!r} is not a USB ID", "four hex digits such as '2c7c'")
        number = int(text, 16)
    if not 0 <= number <= 0xFFFF:
        raise problem(f"{value!r} is out of range", "four hex digits such as '2c7c'")
    return number


class UsbSettings(StrictModel):
    """The device's USB identity and functions as its maker declares them."""

    vendor_id: int = Field(description="the USB vendor ID as hex digits, e.g. '2c7c'")
    product_id: int = Field(description="the USB product ID as hex digits, e.g. '0296'")
    allowed_kinds: list[NonEmptyStr] = Field(
        default_factory=list,
        description="the USB function kinds production firmware may expose, e.g. [modem-at, modem-nmea]",
    )
    interfaces: dict[Count, NonEmptyStr] = Field(
        default_factory=dict,
        description="a mapping from interface number to the kind the maker says it is (e.g. 2: modem-at)",
    )

    @field_validator("vendor_id", "product_id", mode="before")
    @classmethod
    def _hex_id(cls, value: Any) -> int:
        return _usb_id(value)

    @field_validator("allowed_kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        return _known_usb_kinds(kinds)

    @field_validator("interfaces")
    @classmethod
    def _known_interface_kinds(cls, interfaces: dict[int, str]) -> dict[int, str]:
        _known_usb_kinds(list(interfaces.values()))
        return interfaces


def _known_usb_kinds(kinds: list[str]) -> list[str]:
    from harness.analysis.usb import KINDS

    for kind in kinds:
        if kind not in KINDS:
            hint = closest(kind, list(KINDS))
            raise problem(
                f"unknown USB function kind {kind!r}", f"'{hint}'" if hint else "one of " + ", ".join(KINDS)
            )
    return kinds


class BootloaderSettings(StrictModel):
    """How the device's bootloader looks on the console, so the harness can leave it or recognise it."""

    prompt: Regex = Field(
        r"(?:=>|U-Boot>|barebox@[^\n]*:/\S*|grub>)[ \t]*$", description="a regular expression"
    )
    boot_command: str = Field(
        "boot", description="the command that boots the operating system from the prompt"
    )


# --- declared network and security implementations (EN 303 645 5.5-2) ------------------------------

ServiceKind = Literal["ssh", "telnet", "http", "ftp", "rlogin", "adb", "shell", "login-prompt"]


class ImplementationReview(StrictModel):
    """Who reviewed or evaluated a declared implementation and what that covered (TS 103 701 5.5-2-1)."""

    by: NonEmptyStr = Field(description="who reviewed or evaluated it: a lab, a certification or a team")
    scope: str = Field("", description="what the review covered; it names the implementation's purpose")
    reference: str = Field("", description="the review's report, certificate or URL")


class Implementation(StrictModel):
    """A network or security implementation the maker declares the device runs (EN 303 645 5.5-2)."""

    name: NonEmptyStr = Field(description="its name as it identifies itself, such as dropbear or OpenSSL")
    version: NonEmptyStr = Field(description='its version as a string (quote numbers), such as "2022.83"')
    purpose: NonEmptyStr = Field(description="what it does on the device, such as SSH server")
    answers_as: list[ServiceKind] = Field(
        default_factory=list,
        description="the kinds of network service it answers as: ssh, telnet, http, ftp, rlogin, adb, shell",
    )
    review: ImplementationReview | None = Field(
        None, description="a mapping with by, scope and reference: its review or evaluation"
    )


# --- the profile ---------------------------------------------------------------------------------


class DeviceProfile(StrictModel):
    """What a device is, what its maker declares, and how the harness reaches it."""

    kind: Literal["device-profile"] | None = Field(None, description="device-profile")
    name: NonEmptyStr = Field(description="a short name for the device")
    vendor: NonEmptyStr = Field(description="the manufacturer's name")
    model: NonEmptyStr = Field(description="the model designation")
    firmware_version: NonEmptyStr = Field(description="the firmware version as a string (quote numbers)")
    launch_date: dt.date | None = Field(None, description="the launch date as YYYY-MM-DD")
    end_of_support_date: dt.date | None = Field(None, description="the end of security support as YYYY-MM-DD")
    update_policy: UpdatePolicy = Field(default_factory=UpdatePolicy, description="a mapping")
    console: ConsoleSettings = Field(description="a mapping with one of serial, qemu or telnet")
    login: LoginCredentials = Field(description="a mapping with username and password")
    network: NetworkSettings = Field(default_factory=NetworkSettings, description="a mapping")
    features: Features = Field(default_factory=Features, description="a mapping of feature names")
    secure_communication: SecureCommunication = Field(
        default_factory=SecureCommunication, description="a mapping"
    )
    cellular: CellularSettings = Field(default_factory=CellularSettings, description="a mapping")
    secure_boot: SecureBootSettings | None = Field(
        None, description="a mapping with method (uefi-ovmf or declared) and its settings"
    )
    firmware_image: ExistingFile | None = Field(
        None,
        description="the firmware image file to scan for secrets (default: the reference image's initrd)",
    )
    usb: UsbSettings | None = Field(
        None, description="a mapping with vendor_id, product_id and allowed_kinds"
    )
    bootloader: BootloaderSettings | None = Field(
        None, description="a mapping with the bootloader's prompt and boot_command"
    )
    updates: UpdatesSettings | None = Field(
        None, description="a mapping with the maker's valid (and older) package, delivery and version"
    )
    implementations: list[Implementation] | None = Field(
        None, description="a list of the network and security implementations, each with name and version"
    )

    @field_validator("end_of_support_date")
    @classmethod
    def _support_after_launch(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        launch = info.data.get("launch_date")
        if end and launch and end < launch:
            raise problem(
                f"end_of_support_date {end} is before launch_date {launch}", "a date after the launch date"
            )
        return end

    def secrets(self) -> list[str]:
        """Every secret in the profile, for redaction of transcripts and logs."""
        sms = self.cellular.sms_configuration
        return [s for s in (self.login.password, self.cellular.ki, sms.secret if sms else None) if s]

    def summary(self) -> dict[str, Any]:
        """The profile as JSON-ready data for reports, without any secret."""
        return self.model_dump(mode="json", exclude_none=True)
