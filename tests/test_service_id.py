"""What answers on a port is identified by talking to it: real listeners where they exist here (a
shell behind socat, busybox telnetd), and named stand-ins for protocols with no server on this
machine (an SSH banner, an ADB peer, an FTP greeting)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from harness.probes import service_id
from harness.probes.service_id import PRODUCT_CHARS, identify_patiently, identify_tcp_service, sample
from harness.util.ports import free_port

SERVER_START_S = 10.0


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on {port}")


@pytest.fixture
def process_listener() -> Iterator[Callable[[list[str], int], None]]:
    started: list[subprocess.Popen] = []

    def start(argv: list[str], port: int) -> None:
        started.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_listening(port)

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)


def _stand_in(port: int, answer: Callable[[socket.socket], None]) -> threading.Thread:
    server = socket.create_server(("127.0.0.1", port))

    def serve() -> None:
        with server:
            server.settimeout(SERVER_START_S)
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(5)
                    try:
                        answer(conn)
                    except OSError:
                        pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_real_shell_on_an_odd_port_is_a_shell(process_listener):
    port = free_port()
    process_listener(["socat", f"TCP-LISTEN:{port},reuseaddr,fork", "EXEC:/bin/sh,stderr"], port)
    found = identify_tcp_service("127.0.0.1", port)
    assert found.kind == "shell" and found.plaintext_login and "HILSEC42" in found.evidence


@pytest.mark.skipif(shutil.which("busybox") is None, reason="apt-get install -y busybox-static")
def test_busybox_telnetd_on_an_odd_port_is_telnet(process_listener):
    port = free_port()
    process_listener(
        ["busybox", "telnetd", "-F", "-p", str(port), "-b", "127.0.0.1", "-l", "/bin/false"], port
    )
    assert identify_tcp_service("127.0.0.1", port).kind == "telnet"


def test_ssh_banner_stand_in_is_ssh_not_a_login_service():
    port = free_port()
    _stand_in(port, lambda conn: conn.sendall(b"SSH-2.0-dropbear_2022.83\r\n") or conn.recv(100))
    found = identify_tcp_service("127.0.0.1", port)
    assert found.kind == "ssh" and not found.plaintext_login
    assert found.product == "dropbear_2022.83"


def test_the_software_an_ssh_banner_names_is_bounded_and_printable():
    port = free_port()
    hostile = b"SSH-2.0-" + b"A" * 5000 + b"\x1b[2J\r\n"
    _stand_in(port, lambda conn: conn.sendall(hostile) or conn.recv(100))
    found = identify_tcp_service("127.0.0.1", port)
    assert found.kind == "ssh" and found.product == "A" * PRODUCT_CHARS


def test_a_real_http_server_is_http_naming_its_server_header(process_listener):
    port = free_port()
    process_listener([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port)
    found = identify_tcp_service("127.0.0.1", port)
    assert found.kind == "http" and found.product.startswith("SimpleHTTP/"), found


def test_a_service_slow_to_its_first_answer_is_asked_again_patiently():
    """Like dropbear -R making its host key: the first connections hear nothing for a while."""
    port = free_port()
    connections = []

    def slow_then_ssh(conn: socket.socket) -> None:
        connections.append(1)
        if len(connections) <= 4:  # the first identification's four attempts: silence
            conn.recv(100)
            return
        time.sleep(3.0)  # longer than REPLY_TIMEOUT_S, within PATIENT_BANNER_WAIT_S
        conn.sendall(b"SSH-2.0-dropbear_2022.83\r\n")
        conn.recv(100)

    _stand_in(port, slow_then_ssh)
    found = identify_patiently("127.0.0.1", port)
    assert found.kind == "ssh" and found.product == "dropbear_2022.83", found


def test_a_service_that_stays_silent_stays_unknown_after_the_patient_wait(monkeypatch):
    monkeypatch.setattr(service_id, "PATIENT_BANNER_WAIT_S", 0.5)
    port = free_port()
    _stand_in(port, lambda conn: conn.recv(100) and time.sleep(0.1))
    started = time.monotonic()
    assert identify_patiently("127.0.0.1", port).kind == "unknown"
    assert time.monotonic() - started < 20


def test_adb_stand_in_answering_cnxn_is_adb():
    port = free_port()

    def adb(conn: socket.socket) -> None:
        if conn.recv(64)[:4] == b"CNXN":
            conn.sendall(b"CNXN" + bytes(20) + b"device::\0")

    _stand_in(port, adb)
    assert identify_tcp_service("127.0.0.1", port, timeout=0.5).kind == "adb"


def test_ftp_greeting_stand_in_is_ftp():
    port = free_port()
    _stand_in(port, lambda conn: conn.sendall(b"220 (vsFTPd 3.0.3)\r\n") or conn.recv(100))
    assert identify_tcp_service("127.0.0.1", port).kind == "ftp"


def test_silent_service_is_unknown_and_closed_port_is_closed():
    port = free_port()
    _stand_in(port, lambda conn: conn.recv(100) and time.sleep(0.1))
    assert identify_tcp_service("127.0.0.1", port, timeout=0.3).kind == "unknown"
    assert identify_tcp_service("127.0.0.1", free_port()).kind == "closed"


def test_what_the_device_sent_is_escaped_and_bounded():
    rendered = sample(b"\x1b]52;c;aGVsbG8=\x07" + b"A" * 500)
    assert "\x1b" not in rendered and "\x07" not in rendered and len(rendered) < 200


def test_a_greeting_that_comes_after_the_shell_probe_is_recognised_on_that_connection():
    """A loaded dropbear that takes longer than a read's silence to send its identification."""
    port = free_port()
    connections = []

    def late_ssh(conn: socket.socket) -> None:
        connections.append(1)
        time.sleep(service_id.REPLY_TIMEOUT_S + 0.5)  # the first read hears nothing
        conn.sendall(b"SSH-2.0-dropbear_2022.83\r\n")
        conn.recv(100)

    _stand_in(port, late_ssh)
    found = identify_tcp_service("127.0.0.1", port)
    assert found.kind == "ssh" and found.product == "dropbear_2022.83", found
    assert len(connections) == 1


def test_reads_end_when_a_greeting_or_prompt_has_decided():
    assert service_id._greeting_complete(b"SSH-2.0-dropbear_2022.83\r\n")
    assert not service_id._greeting_complete(b"SSH-2.0-drop")  # the software name is still coming
    assert service_id._greeting_complete(b"220 (vsFTPd 3.0.3)\r\n")
    assert service_id._telnet_negotiation(b"\xff\xfd\x01")  # no newline needed
    assert not service_id._greeting_complete(b"hello")
    assert service_id._prompted(b"\xff\xfb\x01Password: ")
    assert service_id._prompted(b"\r\nhilsec-ref login: ")


class _LocalNetwork:
    """Lab addressing for services on this machine: endpoints are 127.0.0.1, the lab side counted."""

    def __init__(self) -> None:
        self.entered: list[str] = []

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        return "127.0.0.1", port

    @contextlib.contextmanager
    def lab_side(self) -> Iterator[None]:
        self.entered.append(threading.current_thread().name)
        yield


def test_an_inventory_identifies_its_ports_at_the_same_time():
    """Two services that greet only once both have a client: identified one after another, the
    first would wait in vain; side by side, both greet."""
    ports = [free_port(), free_port()]
    together = threading.Barrier(len(ports), timeout=service_id.REPLY_TIMEOUT_S)

    def greets_when_both_are_asked(conn: socket.socket) -> None:
        try:
            together.wait()
        except threading.BrokenBarrierError:
            conn.recv(100)  # alone: stays silent, as the sequential inventory would find it
            return
        conn.sendall(b"SSH-2.0-dropbear_2022.83\r\n")
        conn.recv(100)

    for port in ports:
        _stand_in(port, greets_when_both_are_asked)
    network = _LocalNetwork()
    found = service_id.identify_ports(network, ports)  # type: ignore[arg-type]
    assert [found[port].kind for port in ports] == ["ssh", "ssh"], found
    assert len(network.entered) == 2 and all(name.startswith("hilsec-id") for name in network.entered)
