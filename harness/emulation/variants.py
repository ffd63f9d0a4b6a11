"""The reference firmware's variants as sets of named weaknesses ("knobs").

Each weakness is one thing a security test must catch. `hardened` has none, `vulnerable` has all;
any other set can be built (a later `--weakness a,b,c` option maps straight onto `Variant.custom`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.emulation.cellular import CELLULAR_WEAKNESSES, cellular_device_config
from harness.emulation.evasive import EVASIVE_WEAKNESSES, NEEDS_UDP_CLIENT, evasive_device_config
from harness.emulation.log_export import LOG_EXPORT_WEAKNESSES, log_export_device_config
from harness.emulation.network_interfaces import (
    INTERFACE_WEAKNESSES,
    interface_device_config,
    interface_modules,
)
from harness.emulation.resilience import RESILIENCE_WEAKNESSES, resilience_device_config
from harness.emulation.sip_ua import SIP_UA_BINARIES, SIP_UA_PACKAGES, SIP_WEAKNESSES, sip_device_config
from harness.emulation.ssh_server import SSH_WEAKNESSES, ssh_device_config
from harness.emulation.storage import STORAGE_WEAKNESSES, storage_device_config
from harness.emulation.update_channel import (
    UPDATE_CHANNEL_WEAKNESSES,
    update_channel_device_config,
    update_channel_release_lines,
)

FIRMWARE_BASE_VERSION = "1.0.0"
STRONG_ROOT_PASSWORD = "Hs7-quartz-Velvet-9041"
DEFAULT_ROOT_PASSWORD = "admin"  # matches device_profiles/qemu-reference-vulnerable.yaml (root:admin)
DEFAULT_TELEMETRY_TARGET = "10.0.2.2:5684"
DEFAULT_TELEMETRY_PLAIN_TARGET = "10.0.2.2:5683"
DEFAULT_TELEMETRY_INTERVAL_S = 5
DEBUG_SERVICE_PORT = 5555  # ADB's TCP port: the debug-service weakness listens here
IMEI = "490154203237518"  # a Luhn-valid example IMEI, not a real handset's

WEAKNESSES: dict[str, str] = {
    "default-password": f"root's password is the well-known default {DEFAULT_ROOT_PASSWORD!r}",
    "open-telnet": "busybox telnetd listens on port 23 and logs in with /bin/login",
    "plaintext-telemetry": "readings go out as plaintext UDP instead of DTLS 1.2",
    "debug-service": "an unauthenticated adb-like debug shell listens on TCP port 5555",
    "unsigned-updates-accepted": "the update agent installs packages without checking signature or integrity",
    "rollback-accepted": "the update agent installs packages older than the running version",
    "weak-update-signing": "the maker signs updates with RSA-1024 and SHA-1, a key and a digest with known attacks",
}
WEAKNESSES.update(SIP_WEAKNESSES)
WEAKNESSES.update(LOG_EXPORT_WEAKNESSES)
WEAKNESSES.update(STORAGE_WEAKNESSES)
WEAKNESSES.update(UPDATE_CHANNEL_WEAKNESSES)
WEAKNESSES.update(EVASIVE_WEAKNESSES)
WEAKNESSES.update(CELLULAR_WEAKNESSES)
WEAKNESSES.update(RESILIENCE_WEAKNESSES)
WEAKNESSES.update(INTERFACE_WEAKNESSES)
WEAKNESSES.update(SSH_WEAKNESSES)

# Hardening knobs: protections beyond the hardened baseline that the harness must cope with, not
# weaknesses a test must catch. `vulnerable` ("every weakness") leaves them out, and no verdict may
# change with them: the whole suite gives the hardened verdicts on an image that has them.
CONSOLE_LOCKOUT_ATTEMPTS = 5
CONSOLE_LOCKOUT_WINDOW_S = 900  # pam_faillock's default fail_interval
CONSOLE_LOCKOUT_SECONDS = 10
HARDENINGS: dict[str, str] = {
    "console-lockout": (
        f"the console refuses every login for {CONSOLE_LOCKOUT_SECONDS} s after {CONSOLE_LOCKOUT_ATTEMPTS} "
        f"failed logins within {CONSOLE_LOCKOUT_WINDOW_S} s (brute-force protection, EN 303 645 5.1-5)"
    ),
}

# Debian packages every variant unpacks; the kernel is added from KERNEL_META_PACKAGE.
BASE_PACKAGES = (
    "busybox-static",
    "dropbear-bin",
    "openssl",
    "libssl3",
    "libc6",
    "zlib1g",
    "libcrypt1",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
)
KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
KERNEL_PACKAGE_PREFIX = "linux-image-"
# Binaries copied from the unpacked packages; their libraries are resolved from the ELF files.
BASE_BINARIES = ("bin/busybox", "usr/sbin/dropbear", "usr/bin/openssl", "usr/bin/dropbearkey")
PLAINTEXT_CLIENT_PACKAGE = "netcat-traditional"  # busybox's nc here has no -u
PLAINTEXT_CLIENT_BINARY = "bin/nc.traditional"
# virtio-net needs its PCI transport too; dependencies come from each module's .modinfo.
NETWORK_MODULES = ("virtio_pci", "virtio_net")


@dataclass(frozen=True)
class Variant:
    """A named set of weaknesses and everything that follows from it."""

    name: str
    weaknesses: frozenset[str]
    hardenings: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(self.weaknesses - WEAKNESSES.keys())
        if unknown:
            raise ValueError(f"unknown weakness {', '.join(unknown)}; known: {', '.join(WEAKNESSES)}")
        unknown = sorted(self.hardenings - HARDENINGS.keys())
        if unknown:
            raise ValueError(f"unknown hardening {', '.join(unknown)}; known: {', '.join(HARDENINGS)}")

    @classmethod
    def custom(
        cls, weaknesses: set[str] | frozenset[str], hardenings: set[str] | frozenset[str] = frozenset()
    ) -> Variant:
        """A variant with exactly these weaknesses (and hardening knobs), named after them."""
        chosen, extra = frozenset(weaknesses), frozenset(hardenings)
        base = next((v for v in VARIANTS.values() if v.weaknesses == chosen), None)
        if base is not None and not extra:
            return base
        name = base.name if base is not None else "custom-" + "+".join(sorted(chosen))
        return cls("+".join([name, *sorted(extra)]), chosen, extra)

    def hardened_by(self, hardening: str) -> bool:
        if hardening not in HARDENINGS:
            raise KeyError(hardening)
        return hardening in self.hardenings

    def has(self, weakness: str) -> bool:
        if weakness not in WEAKNESSES:
            raise KeyError(weakness)
        return weakness in self.weaknesses

    @property
    def firmware_version(self) -> str:
        return f"{FIRMWARE_BASE_VERSION}-{self.name}"

    @property
    def root_password(self) -> str:
        return DEFAULT_ROOT_PASSWORD if self.has("default-password") else STRONG_ROOT_PASSWORD

    @property
    def needs_udp_client(self) -> bool:
        return self.has("plaintext-telemetry") or bool(self.weaknesses & NEEDS_UDP_CLIENT)

    @property
    def packages(self) -> tuple[str, ...]:
        extra = (PLAINTEXT_CLIENT_PACKAGE,) if self.needs_udp_client else ()
        return BASE_PACKAGES + extra + SIP_UA_PACKAGES

    @property
    def binaries(self) -> tuple[str, ...]:
        extra = (PLAINTEXT_CLIENT_BINARY,) if self.needs_udp_client else ()
        return BASE_BINARIES + extra + SIP_UA_BINARIES

    @property
    def network_modules(self) -> tuple[str, ...]:
        """Kernel modules loaded at boot: the network driver's, and any a weakness needs."""
        return NETWORK_MODULES + interface_modules(self.weaknesses)

    def device_config(self) -> str:
        """/etc/hilsec/device.conf: the shell variables the overlay's scripts act on."""
        settings = {
            "HILSEC_VARIANT": self.name,
            "FIRMWARE_VERSION": self.firmware_version,
            "WEAKNESSES": ",".join(sorted(self.weaknesses)),
            "TELNETD": "yes" if self.has("open-telnet") else "no",
            "DEBUG_SERVICE_PORT": str(DEBUG_SERVICE_PORT) if self.has("debug-service") else "",
            "TELEMETRY": "plain" if self.has("plaintext-telemetry") else "dtls",
            "TELEMETRY_TARGET": DEFAULT_TELEMETRY_TARGET,
            "TELEMETRY_PLAIN_TARGET": DEFAULT_TELEMETRY_PLAIN_TARGET,
            "TELEMETRY_INTERVAL": str(DEFAULT_TELEMETRY_INTERVAL_S),
            "IMEI": IMEI,
            "UPDATE_SIGNATURES": "ignored" if self.has("unsigned-updates-accepted") else "required",
            "UPDATE_ROLLBACK": "accepted" if self.has("rollback-accepted") else "refused",
        }
        settings.update(sip_device_config(self.weaknesses, IMEI))
        settings.update(log_export_device_config(self.weaknesses))
        settings.update(storage_device_config(self.weaknesses))
        settings.update(update_channel_device_config(self.weaknesses))
        settings.update(evasive_device_config(self.weaknesses))
        settings.update(resilience_device_config(self.weaknesses))
        lockout = self.hardened_by("console-lockout")
        settings.update(
            {
                "CONSOLE_LOCKOUT_ATTEMPTS": str(CONSOLE_LOCKOUT_ATTEMPTS) if lockout else "",
                "CONSOLE_LOCKOUT_WINDOW": str(CONSOLE_LOCKOUT_WINDOW_S),
                "CONSOLE_LOCKOUT_SECONDS": str(CONSOLE_LOCKOUT_SECONDS),
            }
        )
        settings.update(cellular_device_config(self.weaknesses))
        settings.update(interface_device_config(self.weaknesses))
        settings.update(ssh_device_config(self.weaknesses))
        return "".join(f"{key}='{value}'\n" for key, value in settings.items())

    def release_file(self) -> str:
        """/etc/hilsec-release."""
        return (
            'NAME="hilsec reference firmware"\n'
            f"VARIANT={self.name}\n"
            f"VERSION={self.firmware_version}\n"
            f"WEAKNESSES={','.join(sorted(self.weaknesses))}\n"
            f"HARDENINGS={','.join(sorted(self.hardenings))}\n"
        ) + update_channel_release_lines()


VARIANTS: dict[str, Variant] = {
    "hardened": Variant("hardened", frozenset()),
    "vulnerable": Variant("vulnerable", frozenset(WEAKNESSES)),
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}") from None
