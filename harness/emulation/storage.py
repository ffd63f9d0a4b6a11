"""Secure-storage weaknesses of the reference firmware (FS38-06).

- `world-readable-secrets`: /etc/shadow and the device's identity key (generated on first boot by
  overlay/usr/sbin/hilsec-storage) are readable by every user.
- `baked-in-private-key`: the image ships a private key (a firmware signing key left in the
  build), the same in every unit. It is generated per build here, never kept in the source tree,
  and stored mode 0600 so only the image scan, not the on-device permission check, sees it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

from harness.errors import HarnessSetupError

STORAGE_WEAKNESSES: dict[str, str] = {
    "world-readable-secrets": "/etc/shadow and the device identity key are readable by unprivileged users",
    "baked-in-private-key": "the image ships a private signing key (/etc/hilsec/firmware-signing.key)",
}
BAKED_KEY_PATH = "etc/hilsec/firmware-signing.key"
KEYGEN_TIMEOUT_S = 60.0


def storage_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by overlay/usr/sbin/hilsec-storage."""
    return {"SECRETS_WORLD_READABLE": "yes" if "world-readable-secrets" in set(weaknesses) else "no"}


def baked_private_key() -> bytes:
    """A fresh PEM RSA private key from the host's openssl (the build host's key, as in real leaks)."""
    if shutil.which("openssl") is None:
        raise HarnessSetupError("openssl not found: the baked-in-private-key knob needs it on the build host")
    try:
        done = subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            capture_output=True,
            timeout=KEYGEN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessSetupError("openssl genpkey timed out") from exc
    if done.returncode != 0 or b"PRIVATE KEY" not in done.stdout:
        raise HarnessSetupError(f"openssl genpkey failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
