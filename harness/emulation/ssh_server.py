"""The reference firmware's SSH server knob (EN 303 645 5.1-3): which host keys dropbear signs with.

Hardened: one Ed25519 host key, generated on the device at first boot (never shipped in the
image), and dropbear started with it alone instead of `-R` (which offers every key type and
makes an RSA key on demand). `weak-ssh-host-key`: an RSA-1024 host key besides it, so the server
signs with ssh-rsa (SHA-1) and rsa-sha2-256 over a 1024-bit key. The overlay's rcS acts on
SSH_WEAK_HOST_KEY.
"""

from __future__ import annotations

from collections.abc import Iterable

SSH_WEAKNESSES: dict[str, str] = {
    "weak-ssh-host-key": "dropbear also signs with an RSA-1024 host key (ssh-rsa, SHA-1 signatures)",
}
WEAK_RSA_HOST_KEY_BITS = 1024


def ssh_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by overlay/etc/init.d/rcS."""
    weak = "weak-ssh-host-key" in set(weaknesses)
    return {"SSH_WEAK_HOST_KEY_BITS": str(WEAK_RSA_HOST_KEY_BITS) if weak else ""}
