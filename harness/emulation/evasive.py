"""Weaknesses shaped to slip past a suite that judges the reference image's shape (issue 8).

Each one is a weakness a suite once passed because it looked only where the reference image put
things; each must now FAIL its requirement while hardened still PASSes:
- `appended-archive-key`: a second, zstd-compressed cpio archive appended to the initramfs holds
  a DER private key, the way an early-microcode or overlay archive rides along (FS38-06);
- `plaintext-boot-beacon`: once per boot, before any test can watch, the device announces itself
  in a plaintext UDP datagram (FS38-04);
- `fake-dtls-framing`: telemetry sent in DTLS 1.2 application-data records around plaintext,
  with no handshake at all (FS38-04);
- `maintenance-login`: a telnet login on TCP 8023, declared by the maker as its "management"
  service, accepts the well-known admin:admin (FS38-05 and FS38-01);
- `console-backdoor`: the serial console's login opens a root shell, without a password, for
  the user name `factory` (FS38-05 and FS38-01 through the console lockdown test).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterable

from harness.errors import HarnessSetupError
from harness.util.cpio import CpioWriter

EVASIVE_WEAKNESSES: dict[str, str] = {
    "appended-archive-key": "a second (zstd) cpio appended to the initramfs holds a DER private key",
    "plaintext-boot-beacon": "once per boot the device announces its IMEI in a plaintext UDP datagram",
    "fake-dtls-framing": "telemetry goes in DTLS application-data records around plaintext, no handshake",
    "maintenance-login": "a telnet login on TCP 8023 (declared as 'management') accepts admin:admin",
    "console-backdoor": "the console login gives a root shell without a password to the user name 'factory'",
}
MAINTENANCE_PORT = 8023
APPENDED_KEY_PATH = "lib/firmware/hilsec/provisioning.der"
KEYGEN_TIMEOUT_S = 60.0
# How a maker that ships these weaknesses declares its services (the profile's network.services).
DECLARED_SERVICES: dict[str, list[dict[str, object]]] = {
    "maintenance-login": [{"name": "management", "protocol": "tcp", "port": MAINTENANCE_PORT}],
}
# The knobs whose overlay scripts send UDP (busybox nc has no -u here).
NEEDS_UDP_CLIENT = frozenset(("plaintext-boot-beacon", "fake-dtls-framing"))


def evasive_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by the overlay's scripts."""
    chosen = set(weaknesses)
    return {
        "BOOT_BEACON": "yes" if "plaintext-boot-beacon" in chosen else "no",
        "TELEMETRY_FRAMING": "fake-dtls" if "fake-dtls-framing" in chosen else "real",
        "MAINTENANCE_PORT": str(MAINTENANCE_PORT) if "maintenance-login" in chosen else "",
        "CONSOLE_BACKDOOR": "yes" if "console-backdoor" in chosen else "no",
    }


def appended_archive(weaknesses: Iterable[str]) -> bytes:
    """What the builder appends to the initramfs: nothing, or a zstd-compressed cpio holding a
    DER private key made now (never kept in the source tree)."""
    if "appended-archive-key" not in set(weaknesses):
        return b""
    import pyzstd

    buffer = io.BytesIO()
    writer = CpioWriter(buffer)
    writer.add_directory("lib/firmware/hilsec")
    writer.add_file(APPENDED_KEY_PATH, _der_private_key(), 0o600)
    writer.close()
    return pyzstd.compress(buffer.getvalue())


def _der_private_key() -> bytes:
    if shutil.which("openssl") is None:
        raise HarnessSetupError("openssl not found: the appended-archive-key knob needs it on the build host")
    try:
        done = subprocess.run(
            [
                "openssl",
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-outform",
                "DER",
            ],
            capture_output=True,
            timeout=KEYGEN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessSetupError("openssl genpkey timed out") from exc
    if done.returncode != 0 or not done.stdout.startswith(b"\x30"):
        raise HarnessSetupError(f"openssl genpkey failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
