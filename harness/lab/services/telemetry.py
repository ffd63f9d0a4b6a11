"""The far end of the device's telemetry: a real openssl DTLS server and a plaintext UDP sink.

A device's telemetry needs someone to answer: without a DTLS peer the capture would show only
ClientHellos and the harness could not see which version and suite were negotiated.

Both keep bounded records of what arrived: the sink the last MAX_DATAGRAMS datagrams, each cut to
MAX_KEPT_PAYLOAD bytes, and each log stops growing at MAX_LOG_BYTES (the capture is the evidence
of what the device sent; these logs only help a person read it).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

from harness.errors import HarnessSetupError
from harness.lab.certificates import ensure_lab_certificate
from harness.lab.services.base import LabEndpoints
from harness.util.deadlines import wait_until
from harness.util.ports import free_port
from harness.util.processes import stop_process

_START_TIMEOUT_S = 10.0
MAX_DATAGRAMS = 1000
MAX_KEPT_PAYLOAD = 2048
MAX_LOG_BYTES = 16 * 1024 * 1024


# openssl s_server serves one DTLS session at a time, and a client that vanishes mid-session (the
# device's `timeout` killed a handshake a busy guest made slow) leaves it waiting on that session
# forever: every later reading goes unanswered. So each s_server serves one session (-naccept 1)
# and is replaced when it ends; one that has held a session this long has lost its client.
SESSION_LIMIT_S = 30.0
SUPERVISE_INTERVAL_S = 0.2


class DtlsPeer:
    """`openssl s_server -dtls` on the lab side: the far end of the device's DTLS telemetry.

    Started on the lab side of the device's network; its supervisor thread (created there too, so
    it stays in the same network namespace) replaces each s_server when its session ends, or after
    SESSION_LIMIT_S when its client vanished.
    """

    def __init__(
        self, port: int, workdir: Path, host: str = "127.0.0.1", *, identity: tuple[Path, Path] | None = None
    ) -> None:
        self.host, self.port, self.workdir = host, port, workdir
        self.log_path = workdir / f"dtls-peer-{port}.log"
        self.identity = identity
        self.replaced_stuck = 0  # sessions abandoned by their client and cleared by the supervisor
        self._proc: subprocess.Popen[bytes] | None = None
        self._copier: threading.Thread | None = None
        self._started_at = 0.0
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"dtls-peer-{self.port}", daemon=True
        )
        self._supervisor.start()

    def _spawn(self) -> None:
        key, cert = self.identity or ensure_lab_certificate(self.workdir)
        cmd = [
            "openssl", "s_server", "-dtls", "-accept", f"{self.host}:{self.port}",
            "-cert", str(cert), "-key", str(key), "-quiet", "-naccept", "1",
        ]  # fmt: skip
        self.workdir.mkdir(parents=True, exist_ok=True)
        # stdin stays an open pipe: s_server treats EOF on stdin as "close the session". With
        # -quiet it prints what the device sends; a thread copies that to the log (every s_server
        # of this peer appends to one log), up to a bound.
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self._proc.stdout is not None
        self._copier = threading.Thread(
            target=_copy_bounded,
            args=(self._proc.stdout, self.log_path, MAX_LOG_BYTES),
            name=f"dtls-peer-log-{self.port}",
            daemon=True,
        )
        self._copier.start()
        self._started_at = time.monotonic()
        process, copier = self._proc, self._copier

        def bound() -> bool:
            if process.poll() is not None:
                copier.join(timeout=2)
                raise HarnessSetupError(
                    f"openssl s_server exited: {self.log_path.read_text(errors='replace')[-500:]}"
                )
            return _udp_port_bound(self.host, self.port)

        if wait_until(bound, _START_TIMEOUT_S, 0.05):
            return
        raise HarnessSetupError(
            f"openssl s_server did not bind {self.host}:{self.port} in {_START_TIMEOUT_S} s"
        )

    def _supervise(self) -> None:
        while not self._stop.wait(SUPERVISE_INTERVAL_S):
            proc = self._proc
            if proc is None:
                continue
            ended = proc.poll() is not None
            if not ended and time.monotonic() - self._started_at < SESSION_LIMIT_S:
                continue
            if not ended:
                self.replaced_stuck += 1
            self._retire(proc)
            if self._stop.is_set():
                return
            try:
                self._spawn()
            except HarnessSetupError:
                time.sleep(1.0)  # the port is taken for a moment: try again on the next round

    def _retire(self, proc: subprocess.Popen[bytes]) -> None:
        stop_process(proc)
        if proc.stdin:
            proc.stdin.close()

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=_START_TIMEOUT_S + 5)
            self._supervisor = None
        if self._proc is not None:
            self._retire(self._proc)
            self._proc = None
        if self._copier is not None:
            self._copier.join(timeout=2)


def _copy_bounded(source: BufferedReader, path: Path, limit: int) -> None:
    """Append `source` to `path` until EOF while the file holds under `limit` bytes; read the rest away."""
    written = path.stat().st_size if path.exists() else 0
    with path.open("ab") as log:
        while chunk := source.read1(65536):
            if written < limit:
                kept = chunk[: limit - written]
                log.write(kept)
                log.flush()
                written += len(kept)


def _udp_port_bound(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@dataclass
class Datagram:
    received: float
    source: tuple[str, int]
    payload: bytes  # the first MAX_KEPT_PAYLOAD bytes
    length: int = 0  # the datagram's whole length


class UdpSink:
    """Receives whatever a device sends to a plain UDP port and logs it (evidence of plaintext)."""

    def __init__(self, port: int, workdir: Path, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.log_path = workdir / f"udp-sink-{port}.log"
        workdir.mkdir(parents=True, exist_ok=True)
        self.datagrams: deque[Datagram] = deque(maxlen=MAX_DATAGRAMS)
        self.received = 0  # every datagram, kept or not
        self.log_bytes = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.host, self.port))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, name=f"udp-sink-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            while not self._stop.is_set():
                try:
                    payload, source = self._sock.recvfrom(65535)
                except TimeoutError:
                    continue
                except OSError:
                    return
                datagram = Datagram(time.time(), source, payload[:MAX_KEPT_PAYLOAD], len(payload))
                self.received += 1
                self.datagrams.append(datagram)
                line = f"{datagram.received:.6f} {source[0]}:{source[1]} {datagram.payload!r}\n"
                if self.log_bytes + len(line) <= MAX_LOG_BYTES:
                    try:
                        log.write(line)
                        log.flush()
                    except OSError:  # a full disk loses log lines, never the listener
                        continue
                    self.log_bytes += len(line)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()


TELEMETRY_INTERVAL_S = 5


class TelemetryService:
    """The device's telemetry peers as one lab service."""

    name = "telemetry"

    @classmethod
    def wanted(cls, profile) -> bool:
        return True  # every device may send readings; where they go and how is what FS38-04 judges

    def __init__(self) -> None:
        self.dtls: DtlsPeer | None = None
        self.plain: UdpSink | None = None
        self._facing = ""

    def start(self, workdir: Path, endpoints: LabEndpoints) -> None:
        bind = endpoints.bind_address
        identity = (
            (endpoints.tls_key, endpoints.tls_certificate)
            if endpoints.tls_certificate and endpoints.tls_key
            else None
        )
        dtls_port = endpoints.port("telemetry_dtls_port") or free_port("udp", bind)
        plain_port = endpoints.port("telemetry_plain_port") or free_port("udp", bind)
        self.dtls = DtlsPeer(dtls_port, workdir, host=bind, identity=identity)
        self.plain = UdpSink(plain_port, workdir, host=bind)
        self.dtls.start()
        self.plain.start()
        self._facing = endpoints.device_facing_address

    def stop(self) -> None:
        for peer in (self.dtls, self.plain):
            if peer is not None:
                peer.stop()

    def boot_arguments(self) -> list[str]:
        assert self.dtls is not None and self.plain is not None
        return [
            f"hilsec.telemetry={self._facing}:{self.dtls.port}",
            f"hilsec.telemetry_plain={self._facing}:{self.plain.port}",
            f"hilsec.interval={TELEMETRY_INTERVAL_S}",
        ]
