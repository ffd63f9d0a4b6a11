"""FS38-06: keys and credentials are kept from unprivileged users and out of the firmware image.

On the device: every secret file (password hashes, SSH host keys, *.key, files holding a PEM
private key) must be unreadable for a user other than its owner; the permission listing is
evidence. In the image the profile points to (`firmware_image`, or the reference image's
initrd), every part unpacked (concatenated and compressed archives, squashfs, ext4, UBI/UBIFS,
JFFS2, FIT) and every file scanned: no private key in any encoding, no password hash of a
well-known default for any account, no literal pre-shared key or API token. A part the harness
cannot read makes these tests INCONCLUSIVE, naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.firmware import ImageScan, scan_firmware
from harness.checks.secure_storage import (
    device_listing_command,
    judge_image_scan,
    judge_secret_permissions,
    parse_device_listing,
)
from harness.plugin.conclusions import conclude

pytestmark = pytest.mark.requirement(
    "FS38-06", "EN303645-5.4-1", "EN303645-5.4-3", "EN18031-SSM-1", "CLP13_6.3", "CLP13_7.1"
)
LISTING_TIMEOUT_S = 60.0


@pytest.mark.requirement("TS103701-5.4-1-2a")
def test_secrets_not_readable_by_unprivileged_users(device, evidence):
    """No secret file on the device can be read by a user other than its (root) owner."""
    result = device.run(device_listing_command(), timeout=LISTING_TIMEOUT_S)
    evidence.write_text("secret-permissions.txt", result.output + "\n")
    conclude(judge_secret_permissions(*parse_device_listing(result.output)))


@pytest.fixture(scope="module")
def image_scan(firmware, default_credentials) -> tuple[Path | None, ImageScan | None, str]:
    """The image scanned once for all three image tests: (image, scan, why not scanned)."""
    image = firmware.image
    if image is None:
        return None, None, "the profile names no firmware_image to scan"
    try:
        return image, scan_firmware(image, default_credentials), ""
    except OSError as exc:
        return image, None, f"could not read {image}: {exc}"


def _judge(image_scan, evidence, *kinds: str) -> None:
    image, scan, problem = image_scan
    outcome = judge_image_scan(scan, problem, kinds)
    if scan is not None:
        evidence.write_json(
            "image-scan.json",
            {
                "image": str(image),
                "files": scan.files,
                "bytes": scan.bytes,
                "parts": scan.parts,
                "unreadable": scan.unreadable,
                "unchecked": scan.unchecked,
                "findings": [str(f) for f in scan.of_kind(*kinds)],
            },
        )
    conclude(outcome)


@pytest.mark.requirement("TS103701-5.4-3-2a")
def test_firmware_image_has_no_private_keys(image_scan, evidence):
    """No PEM, DER, OpenSSH, Dropbear, PKCS#12 or PuTTY private key ships in any part of the image."""
    _judge(image_scan, evidence, "private-key")


@pytest.mark.requirement("TS103701-5.1-1-2c")
def test_firmware_image_has_no_default_passwords(image_scan, evidence):
    """No account in any password file of the image has an empty password or a well-known default one."""
    _judge(image_scan, evidence, "default-password", "empty-password")


@pytest.mark.requirement("TS103701-5.4-3-2a")
def test_firmware_image_has_no_shared_secrets(image_scan, evidence):
    """No pre-shared key, passphrase or API token is written literally in the image's files."""
    _judge(image_scan, evidence, "shared-secret", "api-token")
