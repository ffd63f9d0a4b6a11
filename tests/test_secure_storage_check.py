"""The FS38-06 decisions: image scanning and secret permissions, both ways (no device)."""

from __future__ import annotations

import io
import subprocess

import pytest

from harness.analysis.firmware import scan_firmware
from harness.analysis.firmware.passwords import openssl_crypt, weak_password_findings
from harness.analysis.firmware.secrets import find_private_keys, find_shared_secrets
from harness.checks.secure_storage import judge_secret_permissions, parse_device_listing
from harness.results.verdicts import Verdict
from harness.util.cpio import CpioWriter

CREDENTIALS = [("root", "admin"), ("admin", "password"), ("root", "")]


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def ec_key_pem() -> bytes:
    return _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")


def test_pem_pkcs8_and_der_private_keys_are_found(ec_key_pem):
    assert find_private_keys("/etc/k.pem", b"junk\n" + ec_key_pem)
    der = _openssl("pkcs8", "-topk8", "-nocrypt", "-outform", "DER", data=ec_key_pem)
    assert "PKCS#8" in find_private_keys("/etc/k.der", der)[0].detail
    sec1 = _openssl("ec", "-outform", "DER", data=ec_key_pem)
    assert "SEC1" in find_private_keys("/etc/k.ec", sec1)[0].detail


def test_marker_strings_certificates_and_public_keys_are_not_keys(ec_key_pem):
    assert not find_private_keys("/usr/bin/x", b"\x7fELF...-----BEGIN PRIVATE KEY-----\0%s\0")
    public = _openssl("pkey", "-pubout", data=ec_key_pem)
    assert not find_private_keys("/etc/pub.pem", public)
    assert not find_private_keys("/etc/pub.der", _openssl("pkey", "-pubin", "-outform", "DER", data=public))


def test_dropbear_key_format_is_recognised():
    def ssh_string(value: bytes) -> bytes:
        return len(value).to_bytes(4, "big") + value

    key = ssh_string(b"ssh-ed25519") + ssh_string(b"k" * 64)
    assert (
        "Dropbear ssh-ed25519" in find_private_keys("/etc/dropbear/dropbear_ed25519_host_key", key)[0].detail
    )
    assert not find_private_keys("/etc/x", key + b"trailing")


def test_default_password_hash_is_found_and_strong_one_is_not():
    weak = _openssl("passwd", "-6", "-salt", "abcdefgh", "admin").decode().strip()
    strong = _openssl("passwd", "-6", "-salt", "abcdefgh", "Hs7-quartz-Velvet-9041").decode().strip()
    found, unchecked = weak_password_findings("/etc/shadow", f"root:{weak}:20000::::::\n", CREDENTIALS)
    assert [f.kind for f in found] == ["default-password"] and "'admin'" in found[0].detail and not unchecked
    assert weak_password_findings(
        "/etc/shadow", f"root:{strong}:20000::::::\nbin:*:1::::::\n", CREDENTIALS
    ) == ([], [])
    empty, _ = weak_password_findings("/etc/shadow", "guest::20000::::::\n", CREDENTIALS)
    assert empty[0].kind == "empty-password"


def test_openssl_crypt_hashes_each_password_with_the_salt():
    hashes = openssl_crypt("6", "saltsalt", ["admin", "password"])
    assert len(hashes) == 2 and all(h.startswith("$6$saltsalt$") for h in hashes) and hashes[0] != hashes[1]


def test_shared_secrets_in_config_files():
    assert find_shared_secrets("/etc/wpa.conf", b'network={\n  psk="supersecret1"\n}\n')
    assert find_shared_secrets("/etc/coap.conf", b"DTLS_PRE_SHARED_KEY=0011223344556677\n")
    assert find_shared_secrets("/etc/hilsec/dtls.psk", b"abc\n")
    assert not find_shared_secrets("/etc/init.d/rcS", b'psk="$1"\nPSK_FILE=\n')
    assert not find_shared_secrets("/bin/x", b"\0psk=abcdefgh")


def _cpio(files: dict[str, bytes], path) -> object:
    buffer = io.BytesIO()
    writer = CpioWriter(buffer)
    writer.add_directory("etc")
    for name, data in files.items():
        writer.add_file(name, data)
    writer.close()
    path.write_bytes(buffer.getvalue())
    return path


def test_scan_firmware_reads_a_cpio_both_ways(ec_key_pem, tmp_path):
    weak = _openssl("passwd", "-6", "-salt", "q1w2e3r4", "admin").decode().strip()
    files = {"etc/shadow": f"root:{weak}:1::::::\n".encode(), "etc/fw.key": ec_key_pem}
    bad = scan_firmware(_cpio(files, tmp_path / "bad.cpio"), CREDENTIALS)
    assert {f.kind for f in bad.findings} == {"default-password", "private-key"} and bad.files == 2
    good_files = {"etc/shadow": b"root:!:1::::::\n", "etc/hostname": b"node\n"}
    good = scan_firmware(_cpio(good_files, tmp_path / "good.cpio"), CREDENTIALS)
    assert good.findings == [] and good.unreadable == []


LISTING = """SECRET /etc/shadow
600 0 0 /etc/shadow
755 0 0 /etc
SECRET /etc/hilsec/identity/device.key
644 0 0 /etc/hilsec/identity/device.key
700 0 0 /etc/hilsec/identity
755 0 0 /etc/hilsec
755 0 0 /etc
"""


def test_a_world_readable_key_behind_a_closed_folder_is_safe():
    secrets, modes = parse_device_listing(LISTING)
    assert secrets == ["/etc/shadow", "/etc/hilsec/identity/device.key"]
    outcome = judge_secret_permissions(secrets, modes)
    assert outcome.verdict is Verdict.PASS and outcome.findings == (), outcome.reason


def test_world_readable_and_group_readable_secrets_are_findings():
    listing = LISTING.replace("700 0 0 /etc/hilsec/identity", "755 0 0 /etc/hilsec/identity")
    listing = listing.replace("600 0 0 /etc/shadow", "640 0 42 /etc/shadow")
    outcome = judge_secret_permissions(*parse_device_listing(listing))
    assert outcome.verdict is Verdict.FAIL and outcome.reason.startswith(
        "secrets readable by unprivileged users: "
    )
    assert [(f["path"], "group 42" in f["detail"]) for f in outcome.details["readable"]] == [
        ("/etc/hilsec/identity/device.key", False),
        ("/etc/shadow", True),
    ]


def test_a_listing_without_secrets_or_their_permissions_is_inconclusive():
    assert judge_secret_permissions([], {}).verdict is Verdict.INCONCLUSIVE
    secrets, modes = parse_device_listing(LISTING.replace("600 0 0 /etc/shadow\n", ""))
    outcome = judge_secret_permissions(secrets, modes)
    assert outcome.verdict is Verdict.INCONCLUSIVE and "/etc/shadow" in outcome.reason
