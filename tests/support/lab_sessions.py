"""Real traffic for the capture tests and the benchmark: openssl DTLS/TLS sessions, plaintext
flows and a TCP relay that splits TLS records over many segments, all on loopback, recorded
with ``dumpcap``. Nothing here is simulated: every byte comes from openssl or the kernel.

``python -m support.lab_sessions OUTDIR`` rebuilds the small reference captures.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessSetupError
from harness.util.ports import free_port

PROTOCOL_FLAGS = {"dtls1": "-dtls1", "dtls1_2": "-dtls1_2", "tls1_2": "-tls1_2", "tls1_3": "-tls1_3"}


class LoopbackCapture:
    """``dumpcap -i lo`` for the duration of a ``with`` block; the file is complete on exit."""

    def __init__(self, path: Path, bpf_filter: str, *, pcapng: bool = False, timeout: float = 15.0) -> None:
        self.path = Path(path)
        self.bpf_filter = bpf_filter
        self.pcapng = pcapng
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LoopbackCapture:
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            raise HarnessSetupError("dumpcap not found (apt-get install -y tshark)")
        argv = [dumpcap, "-i", "lo", "-f", self.bpf_filter, "-w", str(self.path)]
        if not self.pcapng:
            argv.append("-P")
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self._process.stderr is not None
        deadline = time.monotonic() + self.timeout
        seen = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._process.stderr], [], [], 0.2)
            if ready:
                chunk = os.read(self._process.stderr.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
                if b"Capturing on" in seen:
                    time.sleep(0.2)
                    return self
        self._stop()
        raise HarnessSetupError(
            f"dumpcap did not start capturing on lo: {seen.decode(errors='replace')[-300:]}"
        )

    def __exit__(self, *exc_info: object) -> None:
        time.sleep(0.3)  # let the last packets reach the capture buffer
        self._stop()

    def _stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Credentials:
    cert: Path
    key: Path


def make_credentials(workdir: Path, *, rsa: bool = False) -> Credentials:
    """A self-signed certificate for the openssl peers (EC P-256, or RSA 2048 for RSA suites)."""
    workdir.mkdir(parents=True, exist_ok=True)
    stem = "rsa" if rsa else "ec"
    cert, key = workdir / f"{stem}-cert.pem", workdir / f"{stem}-key.pem"
    if cert.exists() and key.exists():
        return Credentials(cert, key)
    algorithm = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _run(
        ["openssl", "req", "-x509", *algorithm, "-nodes", "-keyout", str(key), "-out", str(cert)]
        + ["-days", "30", "-subj", "/CN=hilsec-lab"],
        timeout=60,
    )
    return Credentials(cert, key)


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HarnessSetupError(f"{argv[0]} failed: {error}") from error
    if result.returncode != 0:
        raise HarnessSetupError(
            f"{' '.join(argv)} exited {result.returncode}: {result.stderr.decode()[-300:]}"
        )
    return result


@contextlib.contextmanager
def openssl_server(
    protocol: str,
    port: int,
    credentials: Credentials,
    *,
    cipher: str | None = None,
    mtu: int | None = None,
    timeout: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """``openssl s_server`` on 127.0.0.1:port, ready (it printed ACCEPT) when the block starts."""
    argv = ["openssl", "s_server", PROTOCOL_FLAGS[protocol], "-accept", f"127.0.0.1:{port}"]
    argv += ["-cert", str(credentials.cert), "-key", str(credentials.key), "-naccept", "1"]
    argv += _tuning(protocol, cipher, mtu)
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(process, b"ACCEPT", timeout)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _tuning(protocol: str, cipher: str | None, mtu: int | None) -> list[str]:
    argv: list[str] = []
    if cipher:
        argv += ["-ciphersuites" if protocol == "tls1_3" else "-cipher", cipher]
    elif protocol == "dtls1":
        argv += ["-cipher", "DEFAULT:@SECLEVEL=0"]
    if mtu:
        argv += ["-mtu", str(mtu)]
    return argv


def _wait_for(process: subprocess.Popen[bytes], marker: bytes, timeout: float) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            if marker in seen:
                return
    raise HarnessSetupError(f"openssl s_server not ready: {seen.decode(errors='replace')[-300:]}")


def openssl_client(
    protocol: str,
    port: int,
    *,
    message: bytes = b"telemetry 21.5C\n",
    cipher: str | None = None,
    mtu: int | None = None,
    servername: str | None = None,
    timeout: float = 10.0,
) -> bytes:
    """Run ``openssl s_client`` once: handshake, send ``message``, close. Returns its output.
    A long ``servername`` makes the ClientHello big enough to be fragmented under a small MTU."""
    argv = ["openssl", "s_client", PROTOCOL_FLAGS[protocol], "-connect", f"127.0.0.1:{port}"]
    argv += ["-quiet", "-no_ign_eof"] + _tuning(protocol, cipher, mtu)
    if servername:
        argv += ["-servername", servername]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdin is not None
    try:
        process.stdin.write(message)
        process.stdin.flush()
        time.sleep(0.4)
        process.stdin.close()
        process.stdin = None  # closed on purpose: EOF ends the session; communicate must not flush it
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=5)
    return output


def openssl_session(
    protocol: str,
    port: int,
    credentials: Credentials,
    *,
    cipher: str | None = None,
    mtu: int | None = None,
    message: bytes = b"telemetry 21.5C\n",
    servername: str | None = None,
    timeout: float = 10.0,
) -> bytes:
    """One complete client/server session; returns the client's output (for diagnostics)."""
    with openssl_server(protocol, port, credentials, cipher=cipher, mtu=mtu, timeout=timeout):
        return openssl_client(
            protocol, port, message=message, cipher=cipher, mtu=mtu, servername=servername, timeout=timeout
        )


def plaintext_udp(port: int, payloads: Sequence[bytes], *, reply: bytes | None = b"ok") -> None:
    """A UDP exchange in the clear: each payload to 127.0.0.1:port, optional replies."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        server.bind(("127.0.0.1", port))
        server.settimeout(5)
        for payload in payloads:
            client.sendto(payload, ("127.0.0.1", port))
            _, peer = server.recvfrom(65535)
            if reply is not None:
                server.sendto(reply, peer)


def plaintext_tcp(port: int, request: bytes, response: bytes = b"HTTP/1.0 200 OK\r\n\r\nok") -> None:
    """A TCP exchange in the clear (an HTTP-like request and answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        listener.settimeout(5)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(5)
                client.sendall(request)
                connection.recv(65535)
                connection.sendall(response)
                client.recv(65535)


class SegmentingRelay:
    """A TCP relay 127.0.0.1:listen_port -> 127.0.0.1:target_port that forwards every chunk in
    pieces of ``piece`` bytes, each its own segment (TCP_NODELAY + a short pause), so TLS records
    cross segment boundaries on the relay->target leg."""

    def __init__(self, listen_port: int, target_port: int, *, piece: int = 97, pause: float = 0.002) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.piece = piece
        self.pause = pause
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", listen_port))
        self._listener.listen(1)
        self._listener.settimeout(10)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            downstream, _ = self._listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        downstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + 20
        with downstream, upstream:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([downstream, upstream], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65535)
                    if not data:
                        return
                    other = upstream if sock is downstream else downstream
                    for offset in range(0, len(data), self.piece):
                        other.sendall(data[offset : offset + self.piece])
                        time.sleep(self.pause)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(timeout=25)


def split_tls_session(protocol: str, server_port: int, relay_port: int, credentials: Credentials) -> None:
    """A TLS session whose records reach the server split over many small TCP segments."""
    with openssl_server(protocol, server_port, credentials):
        relay = SegmentingRelay(relay_port, server_port)
        try:
            openssl_client(protocol, relay_port)
        finally:
            relay.close()


LONG_SERVERNAME = ".".join(["telemetry-endpoint-of-a-cellular-device-under-test-" + str(i) for i in range(4)])
DECOY_PAYLOAD = b"\x16\xfe\xfd" + bytes(8) + b"\x00\x05" + b"hello, this is plain text"


@dataclass
class ReferenceCapture:
    """A capture of one known kind of traffic, and what a correct classifier must say."""

    name: str
    kind: str
    negotiated_version: str | None = None
    weakness: str | None = None


REFERENCE_CAPTURES = (
    ReferenceCapture("dtls12.pcap", "dtls", "DTLS 1.2"),
    ReferenceCapture("dtls10.pcapng", "dtls", "DTLS 1.0"),
    ReferenceCapture("dtls12_fragmented.pcap", "dtls", "DTLS 1.2"),
    ReferenceCapture("dtls12_null.pcap", "dtls", "DTLS 1.2", "NULL"),
    ReferenceCapture("tls12.pcap", "tls", "TLS 1.2"),
    ReferenceCapture("tls13.pcapng", "tls", "TLS 1.3"),
    ReferenceCapture("tls12_anon.pcap", "tls", "TLS 1.2", "anon"),
    ReferenceCapture("tls12_split.pcap", "tls", "TLS 1.2"),
    ReferenceCapture("plaintext.pcap", "plaintext"),
)


def build_reference_captures(outdir: Path, workdir: Path | None = None) -> dict[str, Path]:
    """Record every REFERENCE_CAPTURES file from real sessions on loopback (about 12 s)."""
    outdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hilsec-lab-keys-"))  # keys never land in outdir
    credentials = make_credentials(workdir)
    built: dict[str, Path] = {}

    def record(name: str, bpf: str, action: Callable[[], object]) -> None:
        path = outdir / name
        with LoopbackCapture(path, bpf, pcapng=name.endswith(".pcapng")):
            action()
        built[name] = path

    sessions = {
        "dtls12.pcap": ("dtls1_2", None, None, None),
        "dtls10.pcapng": ("dtls1", None, None, None),
        "dtls12_fragmented.pcap": ("dtls1_2", None, 256, LONG_SERVERNAME),
        "dtls12_null.pcap": ("dtls1_2", "ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0", None, None),
        "tls12.pcap": ("tls1_2", None, None, None),
        "tls13.pcapng": ("tls1_3", None, None, None),
        "tls12_anon.pcap": ("tls1_2", "AECDH-AES128-SHA:@SECLEVEL=0", None, None),
    }
    for name, (protocol, cipher, mtu, servername) in sessions.items():
        port = free_port("udp" if protocol.startswith("dtls") else "tcp")
        record(
            name,
            f"port {port}",
            lambda p=protocol, n=port, c=cipher, m=mtu, s=servername: openssl_session(
                p, n, credentials, cipher=c, mtu=m, servername=s
            ),
        )
    server_port, relay_port = free_port("tcp"), free_port("tcp")
    record(
        "tls12_split.pcap",
        f"tcp port {server_port} or tcp port {relay_port}",
        lambda: split_tls_session("tls1_2", server_port, relay_port, credentials),
    )
    udp_port, decoy_port, tcp_port = free_port("udp"), free_port("udp"), free_port("tcp")

    def plaintext() -> None:
        plaintext_udp(udp_port, [b"temp=21.5;hum=40;imei=356938035643809", b"temp=21.6"])
        plaintext_udp(decoy_port, [DECOY_PAYLOAD])
        plaintext_tcp(tcp_port, b"POST /telemetry HTTP/1.0\r\nContent-Length: 9\r\n\r\ntemp=21.5")

    record("plaintext.pcap", f"port {udp_port} or port {decoy_port} or port {tcp_port}", plaintext)
    return built


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/pcaps")
    for name, path in build_reference_captures(target).items():
        print(f"{name}: {path.stat().st_size} bytes")
