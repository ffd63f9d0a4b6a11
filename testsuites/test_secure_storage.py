"""FS38-06: keys and credentials are kept from unprivileged users and out of the firmware image.

On the device: every secret file (password hashes, SSH host keys, *.key, files holding a PEM
private key) must be unreadable for a user other than its owner; the permission listing is
evidence. In the image the profile points to (`firmware_image`, or the reference image's
initrd): no private key, no password hash of a well-known default, no literal pre-shared key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.secure_storage import (
    ImageScan,
    device_listing_command,
    open_image,
    parse_device_listing,
    readable_secret_findings,
    scan_image,
)
from harness.plugin.conclusions import inconclusive

pytestmark = pytest.mark.requirement(
    "FS38-06", "EN303645-5.4-1", "EN303645-5.4-3", "EN18031-SSM-1", "CLP13_6.3", "CLP13_7.1"
)
LISTING_TIMEOUT_S = 60.0


def test_secrets_not_readable_by_unprivileged_users(device, evidence):
    """No secret file on the device can be read by a user other than its (root) owner."""
    result = device.run(device_listing_command(), timeout=LISTING_TIMEOUT_S)
    evidence.write_text("secret-permissions.txt", result.output + "\n")
    secrets, modes = parse_device_listing(result.output)
    if not secrets:
        inconclusive("no secret file found on the device (not even /etc/shadow): the listing proves nothing")
    unlisted = [path for path in secrets if path not in modes]
    if unlisted:
        inconclusive("the device printed no permissions for " + ", ".join(unlisted) + " (stat missing?)")
    findings = readable_secret_findings(secrets, modes)
    assert not findings, "secrets readable by unprivileged users: " + "; ".join(map(str, findings))


@pytest.fixture(scope="module")
def image_scan(firmware, default_credentials) -> tuple[Path | None, ImageScan | None, str]:
    """The image scanned once for all three image tests: (image, scan, why not scanned)."""
    image = firmware.image
    if image is None:
        return None, None, "the profile names no firmware_image to scan"
    try:
        with open_image(image) as stream:
            return image, scan_image(stream, default_credentials), ""
    except (OSError, ValueError, EOFError) as exc:
        return image, None, f"could not read {image} as a cpio archive: {exc}"


def _findings(image_scan, evidence, *kinds: str) -> list[str]:
    image, scan, problem = image_scan
    if scan is None:
        inconclusive(problem)
    found = scan.of_kind(*kinds)
    evidence.write_json(
        "image-scan.json",
        {"image": str(image), "files": scan.files, "bytes": scan.bytes, "findings": [str(f) for f in found]},
    )
    return [str(f) for f in found]


def test_firmware_image_has_no_private_keys(image_scan, evidence):
    """No PEM, DER, OpenSSH or Dropbear private key ships in the firmware image."""
    found = _findings(image_scan, evidence, "private-key")
    assert not found, "private keys in the firmware image: " + "; ".join(found)


def test_firmware_image_has_no_default_passwords(image_scan, evidence):
    """No account in the image has an empty password or the hash of a well-known default one."""
    found = _findings(image_scan, evidence, "default-password", "empty-password")
    assert not found, "hard-coded default passwords in the firmware image: " + "; ".join(found)


def test_firmware_image_has_no_shared_secrets(image_scan, evidence):
    """No pre-shared key or passphrase is written literally in the image's files."""
    found = _findings(image_scan, evidence, "shared-secret")
    assert not found, "shared secrets in the firmware image: " + "; ".join(found)
