"""harness.updates: package layout, signatures, crafted defects, versions, manifests, the server."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from support.update_packages import cms_verify, parse_description

from harness.errors import ConfigError
from harness.lab.services.registry import LabEndpoints
from harness.lab.services.update_server import UpdateServer
from harness.probes.update_agent import parse_status
from harness.updates import crafting
from harness.updates.crafting import craft_package
from harness.updates.manifest import load_manifest
from harness.updates.package import DESCRIPTION, SIGNATURE, SwDescription, write_cpio
from harness.updates.signing import create_identity
from harness.updates.versions import is_newer, newer_version, older_version, parse_version
from harness.util.cpio import read_cpio

ROOT = Path(__file__).resolve().parent.parent
HARDWARE = "hilsec-reference-qemu:1.0"


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("keys")
    return create_identity(base / "trusted"), create_identity(base / "untrusted", name="attacker")


def _files(archive: bytes) -> dict[str, bytes]:
    return {member.name: member.data for member in read_cpio(archive)}


def _craft(kind: str, identities, tmp_path: Path) -> crafting.CraftedPackage:
    trusted, untrusted = identities
    return craft_package(
        kind,
        running_version="1.0.3",
        hardware=HARDWARE,
        workdir=tmp_path,
        trusted=trusted,
        untrusted=untrusted,
    )


def test_cpio_crc_round_trip_and_checksum() -> None:
    archive = write_cpio([("a", b"hello"), ("b", b"")])
    assert archive.startswith(b"070702")
    assert [(m.name, m.data) for m in read_cpio(archive)] == [("a", b"hello"), ("b", b"")]
    damaged = archive.replace(b"hello", b"jello")
    with pytest.raises(ValueError, match="checksum"):
        read_cpio(damaged)
    with pytest.raises(ValueError, match="truncated"):
        read_cpio(archive[:-200])


def test_identity_is_a_ca_and_a_code_signing_leaf(identities) -> None:
    trusted, _ = identities
    assert trusted.exists()
    from harness.updates.signing import openssl

    leaf = openssl(
        "x509", "-in", str(trusted.signer_certificate), "-noout", "-ext", "extendedKeyUsage"
    ).decode()
    assert "Code Signing" in leaf
    ca = openssl("x509", "-in", str(trusted.ca_certificate), "-noout", "-ext", "basicConstraints").decode()
    assert "CA:TRUE" in ca
    assert create_identity(trusted.directory) == trusted  # reused, not regenerated


def test_valid_package_layout_and_signature(identities, tmp_path: Path) -> None:
    trusted, untrusted = identities
    package = _craft(crafting.VALID, identities, tmp_path)
    assert [m.name for m in read_cpio(package.data)] == [DESCRIPTION, SIGNATURE, crafting.PAYLOAD_NAME]
    files = _files(package.data)
    fields = parse_description(files[DESCRIPTION])
    assert fields["version"] == ["1.0.4"] and fields["hardware-compatibility"] == [HARDWARE]
    assert package.version == "1.0.4"
    assert cms_verify(files[DESCRIPTION], files[SIGNATURE], trusted.ca_certificate, tmp_path)
    assert not cms_verify(files[DESCRIPTION], files[SIGNATURE], untrusted.ca_certificate, tmp_path)


def test_each_invalid_package_has_exactly_its_defect(identities, tmp_path: Path) -> None:
    trusted, untrusted = identities
    valid = _files(_craft(crafting.VALID, identities, tmp_path).data)

    unsigned = _files(_craft(crafting.UNSIGNED, identities, tmp_path).data)
    assert SIGNATURE not in unsigned and unsigned[crafting.PAYLOAD_NAME] == valid[crafting.PAYLOAD_NAME]

    foreign = _files(_craft(crafting.UNTRUSTED_SIGNER, identities, tmp_path).data)
    assert cms_verify(foreign[DESCRIPTION], foreign[SIGNATURE], untrusted.ca_certificate, tmp_path)
    assert not cms_verify(foreign[DESCRIPTION], foreign[SIGNATURE], trusted.ca_certificate, tmp_path)

    tampered = _files(_craft(crafting.TAMPERED_PAYLOAD, identities, tmp_path).data)
    assert cms_verify(tampered[DESCRIPTION], tampered[SIGNATURE], trusted.ca_certificate, tmp_path)
    assert tampered[DESCRIPTION] == valid[DESCRIPTION]
    assert tampered[crafting.PAYLOAD_NAME] != valid[crafting.PAYLOAD_NAME]
    assert len(tampered[crafting.PAYLOAD_NAME]) == len(valid[crafting.PAYLOAD_NAME])

    with pytest.raises(ValueError, match="truncated"):
        read_cpio(_craft(crafting.TRUNCATED, identities, tmp_path).data)

    rollback = _craft(crafting.ROLLBACK, identities, tmp_path)
    entries = _files(rollback.data)
    assert rollback.version == "1.0.2"
    assert cms_verify(entries[DESCRIPTION], entries[SIGNATURE], trusted.ca_certificate, tmp_path)


def test_crafting_needs_the_right_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="manufacturer's signing key"):
        craft_package(
            crafting.VALID, running_version="1.0.0", hardware=HARDWARE, workdir=tmp_path, trusted=None
        )
    package = craft_package(
        crafting.UNSIGNED, running_version="1.0.0", hardware=HARDWARE, workdir=tmp_path, trusted=None
    )
    assert package.version == "1.0.1"
    with pytest.raises(ValueError, match="older"):
        craft_package(
            crafting.ROLLBACK, running_version="0.0.0", hardware=HARDWARE, workdir=tmp_path, trusted=None
        )


def test_description_lists_cves_and_payload_digests() -> None:
    text = SwDescription(
        "fw", "2.0", ("b:1",), {"p": b"x"}, cves=("CVE-2023-0465",), security_only=True
    ).render()
    fields = parse_description(text)
    assert fields["cves"] == ["CVE-2023-0465"] and fields["security-only"] == ["yes"]
    assert fields["file"][0].startswith("p sha256=2d711642")


@pytest.mark.parametrize(
    ("running", "newer", "older"),
    [
        ("1.0.3", "1.0.4", "1.0.2"),
        ("1.0.0-hardened", "1.0.1", "0.9.9"),
        ("2.0", "2.1", "1.9"),
        ("0.0.1", "0.0.2", "0.0.0"),
    ],
)
def test_versions(running: str, newer: str, older: str) -> None:
    assert newer_version(running) == newer and older_version(running) == older
    assert is_newer(newer, running) and not is_newer(older, running) and not is_newer(running, running)
    assert is_newer("1.0.10", "1.0.9") and parse_version("1.2.3-x") == (1, 2, 3)
    with pytest.raises(ValueError):
        parse_version("v1")


def test_example_manifests_load() -> None:
    good = load_manifest(ROOT / "device_profiles/update_manifests/security-update-1.0.4.json")
    assert good.security_only and good.fixed_cves == ["CVE-2023-2650", "CVE-2023-42366"]
    bad = load_manifest(ROOT / "device_profiles/update_manifests/mixed-update-1.1.0.json")
    assert bad.feature_changes and bad.fixed_cves == ["CVE-2022-48174"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"cves": ["CVE-22-1"]}, "cves", "not a CVE ID"),
        ({"version": "v1.x"}, "version", "not a dotted numeric version"),
        ({"security_only": "perhaps"}, "security_only", ""),
        ({"featur_changes": []}, "featur_changes", "feature_changes"),
    ],
)
def test_manifest_mistakes_are_one_config_error(tmp_path: Path, change: dict, field: str, words: str) -> None:
    data = {"kind": "update-manifest", "package": "fw", "version": "1.0.1", "security_only": True} | change
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ConfigError) as raised:
        load_manifest(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {field}") and words in message and "\n" not in message


def test_status_parsing() -> None:
    status = parse_status("version=1.0.1\nhardware=b:1\nfirmware=1.0.0-hardened\n")
    assert (status.version, status.hardware, status.firmware) == ("1.0.1", "b:1", "1.0.0-hardened")
    from harness.errors import DeviceError

    with pytest.raises(DeviceError):
        parse_status("sh: hilsec-update: not found")


def test_update_server_serves_published_packages(tmp_path: Path) -> None:
    server = UpdateServer()
    server.start(tmp_path, LabEndpoints("127.0.0.1", "10.0.2.2"))
    try:
        url = server.publish("valid-1.swu", b"package bytes")
        assert url == f"http://10.0.2.2:{server.port}/valid-1.swu"
        assert server.boot_arguments() == [f"hilsec.update_server=10.0.2.2:{server.port}"]
        local = f"http://127.0.0.1:{server.port}/valid-1.swu"
        with urllib.request.urlopen(local, timeout=5) as response:
            assert response.read() == b"package bytes"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/missing.swu", timeout=5)
        assert server.requests[0].startswith("GET /valid-1.swu")
        with pytest.raises(ValueError):
            server.publish("../x", b"")
    finally:
        server.stop()
