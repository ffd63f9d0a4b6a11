"""The lab's servers hold bounded state whatever a device does to them.

Before: the HTTP servers kept every request and one thread per idle connection (300 idle
connections held 300 threads), and the plaintext telemetry sink kept every payload.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import harness.lab.services.telemetry as telemetry
from harness.lab.services.base import LabEndpoints
from harness.lab.services.bounded_http import (
    MAX_CONNECTIONS,
    MAX_PATH,
    BoundedHandler,
    BoundedHTTPServer,
    RequestLog,
)
from harness.lab.services.telemetry import UdpSink
from harness.lab.services.update_checks import OPERATOR, UpdateCheckServers
from harness.lab.services.update_server import UpdateServer
from harness.util.deadlines import Deadline, wait_until
from harness.util.ports import free_port


@pytest.fixture
def update_server(tmp_path: Path):
    server = UpdateServer()
    server.start(tmp_path, LabEndpoints("127.0.0.1", "127.0.0.1"))
    yield server
    server.stop()


def test_300_idle_connections_hold_a_bounded_number_of_threads(update_server: UpdateServer) -> None:
    url = update_server.publish("pkg.swu", b"payload")
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", update_server.port), timeout=5) for _ in range(300)]
    try:
        server = update_server._server
        assert server is not None
        assert wait_until(lambda: server.refused >= 300 - MAX_CONNECTIONS, 15, 0.05), server.refused
        assert threading.active_count() - before <= MAX_CONNECTIONS + 2
        assert server.open_connections <= MAX_CONNECTIONS
    finally:
        for conn in idle:
            conn.close()
    # Closed idle connections give their slots back: a real download works again.
    assert wait_until(lambda: update_server._server.open_connections == 0, 15, 0.05)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"payload"


class _Hello(BoundedHandler):
    timeout = 0.5

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")


@pytest.fixture
def quick_server():
    server = BoundedHTTPServer(("127.0.0.1", 0), _Hello, max_connections=4, max_lifetime=1.5)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _closed_within(conn: socket.socket, seconds: float, trickle: bool = False) -> bool:
    """True when the server closes `conn` within `seconds` (trickling a byte at a time if asked)."""
    conn.settimeout(0.2)
    deadline = Deadline.after(seconds)
    while not deadline.expired:
        try:
            if trickle:
                conn.sendall(b"X")
            if conn.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_an_idle_connection_is_dropped(quick_server: BoundedHTTPServer) -> None:
    with socket.create_connection(quick_server.server_address, timeout=5) as conn:
        assert _closed_within(conn, 5)


def test_a_trickling_connection_is_dropped_at_its_lifetime(quick_server: BoundedHTTPServer) -> None:
    with socket.create_connection(quick_server.server_address, timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\n")
        assert _closed_within(conn, 8, trickle=True)
    wait_until(lambda: quick_server.expired >= 1, 5, 0.05)  # the reaper counts on its own thread
    assert quick_server.expired >= 1, (quick_server.expired, quick_server.aborted, quick_server.errors)


def test_request_paths_and_logs_are_bounded(update_server: UpdateServer, tmp_path: Path) -> None:
    long = "/" + "a" * 20000
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{update_server.port}{long}", timeout=10)
    except OSError:
        pass  # 404 (or 414): what matters is what the server kept
    [entry] = list(update_server.requests)
    assert len(entry) < MAX_PATH + 100

    log: RequestLog[int] = RequestLog(limit=5)
    for number in range(12):
        log.append(number)
    assert log.entries() == [7, 8, 9, 10, 11] and log.dropped == 7


def test_update_check_servers_use_the_bounded_log(tmp_path: Path) -> None:
    servers = UpdateCheckServers()
    servers.start(tmp_path, LabEndpoints("127.0.0.1", "127.0.0.1"))
    try:
        since = time.time()
        port = servers.servers[OPERATOR].port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/latest?x=" + "b" * 5000, timeout=10) as got:
            assert b"version=" in got.read()
        [entry] = servers.requests_since(OPERATOR, since)
        assert entry.path.startswith("/latest?x=") and len(entry.path) < MAX_PATH + 100
    finally:
        servers.stop()


def test_the_plaintext_sink_keeps_bounded_payloads_and_log(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(telemetry, "MAX_DATAGRAMS", 50)
    monkeypatch.setattr(telemetry, "MAX_LOG_BYTES", 40_000)
    sink = UdpSink(free_port("udp", "127.0.0.1"), tmp_path)
    sink.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(200):
                sock.sendto(b"imei=490154203237518;" * 3000, ("127.0.0.1", sink.port))
                time.sleep(0.001)
        assert wait_until(lambda: sink.received >= 150, 10, 0.05), sink.received
    finally:
        sink.stop()
    assert len(sink.datagrams) <= 50
    assert all(len(d.payload) <= telemetry.MAX_KEPT_PAYLOAD and d.length == 63000 for d in sink.datagrams)
    assert sink.log_path.stat().st_size <= 40_000
