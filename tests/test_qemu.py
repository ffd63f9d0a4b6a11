"""QemuMachine booting the real reference images (integration), plus fast checks of its plumbing.

The serial console is driven through a plain AF_UNIX socket here (RawSerialClient) so these tests
depend on nothing but QEMU and the image builder.
"""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.drivers.qemu import QemuMachine, free_port, kvm_usable, probe_boot
from harness.emulation.builder import build_image
from harness.emulation.variants import get_variant
from harness.errors import HarnessSetupError

BOOT_TIMEOUT_S = 90.0
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="no QEMU")


class RawSerialClient:
    """The guest's ttyS0 over the machine's unix socket, with a tiny expect()."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(path))
        self.sock.settimeout(0.2)
        self.seen = b""

    def expect(self, pattern: bytes, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.seen)
            if match:
                before, self.seen = self.seen[: match.end()], self.seen[match.end() :]
                return before
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise EOFError(f"serial closed; seen {self.seen[-300:]!r}")
            self.seen += chunk
        raise TimeoutError(f"{pattern!r} not seen in {timeout} s; tail {self.seen[-300:]!r}")

    def sendline(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\n")

    def run(self, command: str, timeout: float = 20.0) -> str:
        """Output of a shell command, cut at a marker the echoed command line cannot contain."""
        self.sendline(f'{command}; echo "RC=$?" E""ND')
        output = self.expect(rb"RC=\d+ END", timeout).decode(errors="replace")
        return output.split("\n", 1)[1] if "\n" in output else output

    def login(self, password: str, timeout: float = BOOT_TIMEOUT_S) -> float:
        """Log in as root; returns seconds until the login prompt appeared."""
        started = time.monotonic()
        self.expect(rb"login: ", timeout)
        login_at = time.monotonic() - started
        self.sendline("root")
        self.expect(rb"[Pp]assword: ", 10)
        self.sendline(password)
        self.expect(rb"# ", 15)
        return login_at

    def close(self) -> None:
        self.sock.close()


def pcap_udp_datagrams(path: Path) -> list[tuple[str, str, int, bytes]]:
    """(source, destination, destination port, payload) of every IPv4 UDP packet in a pcap."""
    data = path.read_bytes()
    datagrams = []
    offset = 24
    while offset + 16 <= len(data):
        captured = struct.unpack_from("<I", data, offset + 8)[0]
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        header = (frame[14] & 0x0F) * 4
        source = socket.inet_ntoa(frame[26:30])
        destination = socket.inet_ntoa(frame[30:34])
        udp = frame[14 + header :]
        port = struct.unpack_from(">H", udp, 2)[0]
        datagrams.append((source, destination, port, udp[8:]))
    return datagrams


@dataclass
class BootedDevice:
    variant: str
    machine: QemuMachine
    serial: RawSerialClient
    login_seconds: float
    dtls_port: int
    plain_port: int
    plain_received: list[bytes] = field(default_factory=list)
    dtls_peer: subprocess.Popen | None = None
    dtls_peer_log: Path | None = None


def start_dtls_peer(workdir: Path, port: int) -> tuple[subprocess.Popen, Path]:
    """A host `openssl s_server -dtls1_2` with a throwaway self-signed certificate."""
    key, cert, log = workdir / "peer.key", workdir / "peer.crt", workdir / "peer.log"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=hilsec-telemetry-peer"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    peer = subprocess.Popen(
        ["openssl", "s_server", "-dtls1_2", "-accept", f"127.0.0.1:{port}",
         "-cert", str(cert), "-key", str(key)],
        stdin=subprocess.PIPE, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return peer, log


@pytest.fixture(scope="module", params=["hardened", "vulnerable"])
def device(request, tmp_path_factory) -> Iterator[BootedDevice]:
    variant = request.param
    image = build_image(variant)
    workdir = tmp_path_factory.mktemp(f"qemu-{variant}")
    dtls_port = free_port("udp")
    plain_listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    plain_listener.bind(("127.0.0.1", 0))
    plain_listener.settimeout(0.1)
    plain_port = plain_listener.getsockname()[1]
    peer, peer_log = start_dtls_peer(workdir, dtls_port)
    append = (
        f"{image.append} hilsec.interval=2 "
        f"hilsec.telemetry={QemuMachine.GUEST_HOST_ADDRESS}:{dtls_port} "
        f"hilsec.telemetry_plain={QemuMachine.GUEST_HOST_ADDRESS}:{plain_port}"
    )
    machine = QemuMachine(
        kernel=image.kernel, initrd=image.initrd, append=append, workdir=workdir,
        accel="tcg", forwards=[("tcp", 22), ("tcp", 23)],
    )  # fmt: skip
    machine.power_on()
    serial = RawSerialClient(machine.serial_socket_path)
    booted = BootedDevice(variant, machine, serial, 0.0, dtls_port, plain_port, [], peer, peer_log)
    try:
        booted.login_seconds = serial.login(get_variant(variant).root_password)
        print(f"\n[measure] {variant}: login prompt {booted.login_seconds:.2f} s after power_on")
        booted.plain_listener = plain_listener  # type: ignore[attr-defined]
        yield booted
    finally:
        serial.close()
        machine.power_off()
        peer.terminate()
        try:
            peer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            peer.kill()
        plain_listener.close()


@pytest.mark.integration
def test_login_and_release_file(device: BootedDevice) -> None:
    release = device.serial.run("cat /etc/hilsec-release")
    assert f"VERSION=1.0.0-{device.variant}" in release
    assert f"VARIANT={device.variant}" in release
    assert "hilsec-ref" in device.serial.run("hostname")
    assert device.login_seconds < BOOT_TIMEOUT_S


@pytest.mark.integration
def test_wrong_password_is_refused(device: BootedDevice) -> None:
    """A second login on the console with a wrong password fails (the hash is really checked)."""
    device.serial.sendline("exit")
    device.serial.expect(rb"login: ", 20)
    device.serial.sendline("root")
    device.serial.expect(rb"[Pp]assword: ", 10)
    device.serial.sendline("not-the-password")
    device.serial.expect(rb"Login incorrect", 15)
    device.serial.login(get_variant(device.variant).root_password, timeout=30)


def read_banner(port: int, timeout: float = 20.0) -> bytes:
    """First bytes a TCP service sends; b"" when the connection closes without any."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.settimeout(1)
        data = b""
        while time.monotonic() < deadline and len(data) < 4:
            try:
                chunk = connection.recv(256)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.integration
def test_ssh_on_both_telnet_only_on_vulnerable(device: BootedDevice) -> None:
    assert read_banner(device.machine.host_port("tcp", 22)).startswith(b"SSH-2.0-dropbear")
    telnet = read_banner(device.machine.host_port("tcp", 23), timeout=5)
    if device.variant == "vulnerable":
        assert telnet.startswith(b"\xff"), telnet  # telnet IAC negotiation
    else:
        assert telnet == b""


@pytest.mark.integration
def test_telemetry_reaches_the_lab_as_the_variant_says(device: BootedDevice) -> None:
    deadline = time.monotonic() + 30
    listener = device.plain_listener  # type: ignore[attr-defined]
    while time.monotonic() < deadline:
        try:
            device.plain_received.append(listener.recv(2048))
        except TimeoutError:
            pass
        datagrams = pcap_udp_datagrams(device.machine.pcap_path)
        to_dtls = [d for d in datagrams if d[0] == "10.0.2.15" and d[2] == device.dtls_port]
        to_plain = [d for d in datagrams if d[0] == "10.0.2.15" and d[2] == device.plain_port]
        peer_output = device.dtls_peer_log.read_bytes() if device.dtls_peer_log else b""
        if device.variant == "hardened" and to_dtls and b"seq=" in peer_output:
            assert all(d[3][:1] in (b"\x16", b"\x14", b"\x15", b"\x17") for d in to_dtls)
            assert any(d[3][1:3] == b"\xfe\xfd" for d in to_dtls)  # DTLS 1.2 records
            assert not to_plain
            assert not any(b"imei=" in d[3] for d in datagrams)
            return
        # (the vulnerable image's boot beacon may come first, and with fake-dtls-framing its readings
        # travel inside DTLS-looking records: wait for a telemetry reading, framed or not)
        readings = [d for d in to_plain if b"temp=" in d[3]]
        received = [datagram for datagram in device.plain_received if b"seq=" in datagram]
        if device.variant == "vulnerable" and readings and received:
            assert any(b"imei=" in d[3] for d in readings)
            assert not to_dtls
            return
        time.sleep(0.5)
    pytest.fail(f"no {device.variant} telemetry seen; {device.machine.serial_log_path}")


@pytest.mark.integration
def test_power_cycle_boots_again(device: BootedDevice) -> None:
    first_capture = device.machine.pcap_path
    device.serial.close()
    device.machine.power_cycle()
    assert device.machine.is_running()
    assert device.machine.pcap_path != first_capture
    device.serial = RawSerialClient(device.machine.serial_socket_path)
    seconds = device.serial.login(get_variant(device.variant).root_password)
    print(f"\n[measure] {device.variant}: login prompt {seconds:.2f} s after power_cycle")
    assert "RC=0" in device.serial.run("test -f /etc/hilsec-release")


@pytest.mark.integration
def test_warm_build_is_instant() -> None:
    started = time.monotonic()
    image = build_image("hardened")
    elapsed = time.monotonic() - started
    print(f"\n[measure] warm build_image('hardened'): {elapsed:.2f} s")
    assert image.kernel.is_file() and image.initrd.is_file()
    assert elapsed < 5


@pytest.mark.integration
def test_cold_build(tmp_path: Path) -> None:
    """A build into an empty cache (debs re-downloaded), then the same call again from the cache."""
    started = time.monotonic()
    cold = build_image("vulnerable", cache_dir=tmp_path)
    cold_s = time.monotonic() - started
    started = time.monotonic()
    warm = build_image("vulnerable", cache_dir=tmp_path)
    warm_s = time.monotonic() - started
    print(f"\n[measure] cold build {cold_s:.1f} s, warm build {warm_s:.2f} s")
    assert warm.digest == cold.digest and warm.initrd == cold.initrd
    assert warm_s < cold_s


@needs_qemu
def test_qemu_that_dies_at_start_reports_its_log(tmp_path: Path) -> None:
    (tmp_path / "kernel").write_bytes(b"not a kernel")
    (tmp_path / "initrd").write_bytes(b"")
    machine = QemuMachine(
        kernel=tmp_path / "kernel", initrd=tmp_path / "initrd", append="console=ttyS0",
        workdir=tmp_path, accel="tcg", extra_args=["-no-such-option"],
    )  # fmt: skip
    with pytest.raises(HarnessSetupError, match="no-such-option"):
        machine.power_on()
    assert not machine.is_running()
    assert "no-such-option" in machine.log_path.read_text()


def test_missing_kernel_is_reported_before_qemu_waits_for_its_console(tmp_path: Path) -> None:
    machine = QemuMachine(
        kernel=tmp_path / "no-such-kernel", initrd=tmp_path / "initrd", append="", workdir=tmp_path,
        accel="tcg",
    )  # fmt: skip
    with pytest.raises(HarnessSetupError, match="no-such-kernel"):
        machine.power_on()


@pytest.mark.integration
def test_probe_boot_detects_a_booting_kernel_and_kvm_probe_answers() -> None:
    image = build_image("hardened")
    assert probe_boot(image.kernel, "tcg", timeout=30)
    started = time.monotonic()
    usable = kvm_usable(image.kernel)
    print(f"\n[measure] KVM usable: {usable} (probe {time.monotonic() - started:.1f} s)")
    assert kvm_usable(image.kernel) is usable


@pytest.mark.integration
def test_serial_stream_is_a_byte_stream(tmp_path: Path) -> None:
    image = build_image("vulnerable")
    with QemuMachine(
        kernel=image.kernel, initrd=image.initrd, append=image.append, workdir=tmp_path, accel="tcg"
    ) as machine:
        stream = machine.serial_stream()
        seen = b""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while b"login: " not in seen and time.monotonic() < deadline:
            seen += stream.read(4096, timeout=1.0)
        assert b"hilsec-ref login: " in seen
    assert not machine.is_running()
    assert b"login: " in machine.serial_log_path.read_bytes()


def test_command_line_has_forwards_capture_and_sockets(tmp_path: Path) -> None:
    machine = QemuMachine(
        kernel=tmp_path / "k", initrd=tmp_path / "i", append="console=ttyS0", workdir=tmp_path,
        accel="tcg", forwards=[("tcp", 22), ("udp", 5683)],
    )  # fmt: skip
    machine._ports = {("tcp", 22): 40022, ("udp", 5683): 40683}
    machine.pcap_path = tmp_path / "capture.pcap"
    argv = " ".join(machine.command_line("tcg"))
    assert "hostfwd=tcp:127.0.0.1:40022-:22" in argv
    assert "hostfwd=udp:127.0.0.1:40683-:5683" in argv
    assert f"filter-dump,id=f0,netdev=n0,file={tmp_path}/capture.pcap" in argv
    assert "server=on,wait=on" in argv and "romfile=" in argv
    assert machine.host_port("tcp", 22) == 40022
    with pytest.raises(KeyError):
        machine.host_port("tcp", 23)


def test_bad_accel_and_forward_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        QemuMachine(kernel=tmp_path, initrd=tmp_path, append="", workdir=tmp_path, accel="hvf")
    with pytest.raises(ValueError):
        QemuMachine(kernel=tmp_path, initrd=tmp_path, append="", workdir=tmp_path, forwards=[("sctp", 1)])
