"""Invalid packages derived from a maker's valid one, the profile's `updates:` section, the HTTP channels.

The derived packages are checked with the same openssl CMS verification the reference agent does:
each differs from the maker's package in exactly the one respect its kind names. The HTTP channels
talk to a real HTTP server standing in for a device's update endpoint.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from support.update_packages import cms_verify

from harness.config import load_profile
from harness.drivers.http_update_channel import HttpFetchChannel, HttpUploadChannel
from harness.errors import ConfigError
from harness.updates import crafting
from harness.updates.crafting import craft_package
from harness.updates.derive import derive_package, maker_copy, swu_entries
from harness.updates.package import DESCRIPTION, SIGNATURE
from harness.updates.signing import create_identity
from harness.util.cpio import read_cpio

HARDWARE = "board:1.0"
BENCH_PROFILE = Path(__file__).parent / "data" / "benches" / "uboot-qemu-arm64-stock.yaml"


@pytest.fixture(scope="module")
def maker(tmp_path_factory: pytest.TempPathFactory):
    """The maker's identity and its valid package (1.0.1), as files a lab is handed."""
    base = tmp_path_factory.mktemp("maker")
    identity = create_identity(base / "maker")
    package = craft_package(
        crafting.VALID, running_version="1.0.0", hardware=HARDWARE, workdir=base, trusted=identity
    )
    path = base / "firmware-1.0.1.swu"
    path.write_bytes(package.data)
    return identity, path, create_identity(base / "harness", name="hilsec untrusted")


def _files(archive: bytes) -> dict[str, bytes]:
    return {member.name: member.data for member in read_cpio(archive)}


def _verifies(entries: dict[str, bytes], ca: Path, workdir: Path) -> bool:
    return SIGNATURE in entries and cms_verify(entries[DESCRIPTION], entries[SIGNATURE], ca, workdir)


def test_each_derived_package_differs_in_one_respect(maker, tmp_path: Path) -> None:
    identity, valid, untrusted = maker
    original = _files(valid.read_bytes())
    assert _verifies(original, identity.ca_certificate, tmp_path)

    def derived(kind: str) -> bytes:
        package = derive_package(kind, valid, "1.0.1", untrusted=untrusted, workdir=tmp_path)
        assert (
            package.version == "1.0.1"
            and package.filename.startswith(kind)
            and package.filename.endswith(".swu")
        )
        assert valid.name in package.description
        return package.data

    unsigned = _files(derived(crafting.UNSIGNED))
    assert SIGNATURE not in unsigned and unsigned == {k: v for k, v in original.items() if k != SIGNATURE}

    replaced = _files(derived(crafting.UNTRUSTED_SIGNER))
    assert replaced[DESCRIPTION] == original[DESCRIPTION] and replaced[SIGNATURE] != original[SIGNATURE]
    assert not _verifies(replaced, identity.ca_certificate, tmp_path)
    assert _verifies(replaced, untrusted.ca_certificate, tmp_path)  # a well-formed signature, wrong key

    tampered = _files(derived(crafting.TAMPERED_PAYLOAD))  # cpio checksums still valid
    assert _verifies(tampered, identity.ca_certificate, tmp_path)  # signature kept ...
    assert tampered[crafting.PAYLOAD_NAME] != original[crafting.PAYLOAD_NAME]  # ... payload changed
    assert len(tampered[crafting.PAYLOAD_NAME]) == len(original[crafting.PAYLOAD_NAME])

    truncated = derived(crafting.TRUNCATED)
    assert valid.read_bytes().startswith(truncated) and len(truncated) < len(valid.read_bytes())
    with pytest.raises(ValueError):
        read_cpio(truncated)


def test_a_package_of_another_format_is_still_tampered_and_truncated(maker, tmp_path: Path) -> None:
    _, _, untrusted = maker
    blob = tmp_path / "firmware.bin"
    blob.write_bytes(bytes(range(256)) * 64)
    assert swu_entries(blob.read_bytes()) is None
    tampered = derive_package(crafting.TAMPERED_PAYLOAD, blob, "2", untrusted=untrusted, workdir=tmp_path)
    assert len(tampered.data) == len(blob.read_bytes()) and tampered.data != blob.read_bytes()
    truncated = derive_package(crafting.TRUNCATED, blob, "2", untrusted=untrusted, workdir=tmp_path)
    assert len(truncated.data) == len(blob.read_bytes()) // 2
    for kind in (crafting.UNSIGNED, crafting.UNTRUSTED_SIGNER):
        with pytest.raises(ValueError, match="not an SWUpdate archive"):
            derive_package(kind, blob, "2", untrusted=untrusted, workdir=tmp_path)


def test_maker_copy_keeps_the_bytes(maker) -> None:
    _, valid, _ = maker
    copy = maker_copy(crafting.VALID, valid, "1.0.1", "the maker's valid package")
    assert copy.data == valid.read_bytes() and copy.filename != valid.name


def _profile_with(tmp_path: Path, updates: dict) -> Path:
    data = yaml.safe_load(BENCH_PROFILE.read_text())
    data["updates"] = updates
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _updates(package: Path, **changes) -> dict:
    section = {
        "valid": {"file": str(package), "version": "1.0.1"},
        "delivery": {"console_command": "fwupdate {url}"},
        "version": {"command": "fwupdate --version", "pattern": r"v(\S+)"},
    }
    section.update(changes)
    return section


def test_updates_section_loads(maker, tmp_path: Path) -> None:
    _, valid, _ = maker
    profile = load_profile(_profile_with(tmp_path, _updates(valid)))
    assert profile.updates.valid.version == "1.0.1" and profile.updates.older is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"delivery": {}}, "exactly one of console_command, http_upload or http_fetch"),
        ({"delivery": {"console_command": "x {url}", "http_upload": {"port": 80}}}, "exactly one"),
        ({"delivery": {"console_command": "fwupdate /tmp/x"}}, "updates.delivery.console_command"),
        ({"version": {"command": "v", "pattern": "v.*"}}, "the pattern has no group"),
        ({"delivery": {"http_fetch": {"port": 80, "path": "/update"}}}, "updates.delivery.http_fetch.path"),
        ({"valid": {"file": "missing.swu", "version": "1"}}, "updates.valid.file"),
    ],
)
def test_updates_mistakes_are_one_line(maker, tmp_path: Path, change: dict, words: str) -> None:
    _, valid, _ = maker
    with pytest.raises(ConfigError) as error:
        load_profile(_profile_with(tmp_path, _updates(valid, **change)))
    assert words in str(error.value) and "\n" not in str(error.value)


class _EndpointHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        status = 200 if body != b"refuse me" else 400
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    do_POST = do_PUT = do_GET = _answer  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class DeviceUpdateEndpointStandIn:
    """Stand-in for a device's HTTP update endpoint (no device here): records what it was sent."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _EndpointHandler)
        self.server.seen = []  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server:
    def publish(self, filename: str, data: bytes) -> str:
        return f"http://192.0.2.1:8080/{filename}"


class _DeviceReachedOnLoopback:
    """What the HTTP channels use of a Device: where the lab reaches a port, the lab side, the server."""

    lab_services = {"updates": _Server()}

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        return "127.0.0.1", port

    @contextmanager
    def lab_side(self):
        yield self


@pytest.fixture
def endpoint():
    stand_in = DeviceUpdateEndpointStandIn()
    yield stand_in
    stand_in.close()


def test_http_upload_sends_the_package_and_reads_the_answer(endpoint) -> None:
    class Settings:
        port, path, method, scheme = endpoint.port, "/api/update", "PUT", "http"

    channel = HttpUploadChannel(Settings, {"device": _DeviceReachedOnLoopback()})
    handed = channel.deliver("valid-1.0.1.swu", b"package bytes", timeout=5)
    assert handed.accepted and handed.status == 200
    method, path, headers, body = endpoint.server.seen[-1]
    assert (method, path, body) == ("PUT", "/api/update", b"package bytes")
    assert 'filename="valid-1.0.1.swu"' in headers["Content-Disposition"]
    refused = channel.deliver("bad.swu", b"refuse me", timeout=5)
    assert not refused.accepted and refused.status == 400 and "HTTP 400" in refused.output


def test_http_fetch_names_the_url_on_the_lab_server(endpoint) -> None:
    class Settings:
        port, path, method, scheme = endpoint.port, "/update?url={url}", "GET", "http"

    channel = HttpFetchChannel(Settings, {"device": _DeviceReachedOnLoopback()})
    handed = channel.deliver("valid-1.0.1.swu", b"package bytes", timeout=5)
    assert handed.accepted and handed.url == "http://192.0.2.1:8080/valid-1.0.1.swu"
    assert endpoint.server.seen[-1][1] == "/update?url=http%3A%2F%2F192.0.2.1%3A8080%2Fvalid-1.0.1.swu"
