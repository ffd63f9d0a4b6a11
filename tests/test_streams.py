"""Byte streams through open_stream (pyserial loop:// and socket://, tcp, unix, telnet, a pty
child) and streaming redaction of secrets split across reads."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness.errors import DeviceDisconnected, DeviceError
from harness.results.redact import MASK_BYTES, StreamRedactor, redact_text
from harness.transports.console import Console, LoginSettings
from harness.transports.stream import (
    ByteStream,
    ProcessStream,
    SerialStream,
    SocketStream,
    TelnetStream,
    UnixSocketStream,
    open_stream,
)
from harness.transports.telnet import DO, ECHO, IAC, NAWS, SB, SE, SGA, WILL, WONT

BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def read_until(stream: ByteStream, wanted: bytes, timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while wanted not in data and time.monotonic() < deadline:
        data += stream.read(4096, 0.1)
    return data


class FakeTcpPeer:
    """Stand-in for a networked console (ser2net, QEMU -serial tcp:): one accepted connection."""

    def __init__(self, family: int = socket.AF_INET, path: str | None = None) -> None:
        self.server = socket.socket(family, socket.SOCK_STREAM)
        self.server.bind(path if path else ("127.0.0.1", 0))
        self.server.listen(1)
        self.address = self.server.getsockname()
        self.connection: socket.socket | None = None
        self._accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.connection, _ = self.server.accept()
        self._accepted.set()

    def peer(self) -> socket.socket:
        assert self._accepted.wait(5)
        assert self.connection is not None
        return self.connection

    def close(self) -> None:
        if self.connection:
            self.connection.close()
        self.server.close()


# -- redaction --------------------------------------------------------------------------------


def redact_in_chunks(secrets: list[str], data: bytes, cuts: list[int]) -> bytes:
    out: list[bytes] = []
    redactor = StreamRedactor(secrets, out.append)
    edges = [0, *cuts, len(data)]
    for start, end in zip(edges, edges[1:], strict=False):
        redactor.write(data[start:end])
    redactor.flush()
    return b"".join(out)


def test_secret_split_across_two_reads_at_every_position():
    secret = "Hs7-quartz-Velvet-9041"
    data = f"login: root\r\nPassword: {secret}\r\n# echo {secret}x\r\n".encode()
    expected = data.replace(secret.encode(), MASK_BYTES)
    for cut in range(len(data) + 1):
        assert redact_in_chunks([secret], data, [cut]) == expected, cut


def test_secret_split_across_many_reads():
    data = b"a-root-b-rootroot-c-roo"
    expected = b"a-********-b-****************-c-********"  # a trailing prefix is masked at the end
    assert redact_in_chunks(["root"], data, list(range(1, len(data)))) == expected


def test_longest_secret_wins_and_unrelated_text_passes_untouched():
    assert redact_in_chunks(["abc", "abcdef"], b"xabcdefy abcz", [3, 6]) == b"x********y ********z"
    assert redact_in_chunks([], b"nothing secret", [4]) == b"nothing secret"
    assert redact_in_chunks(["", "pw"], b"text", [2]) == b"text"
    assert redact_text("pw is pw", ["pw"]) == "******** is ********"


def test_masked_write_hides_the_typed_text_but_keeps_the_newline():
    out: list[bytes] = []
    redactor = StreamRedactor(["zz"], out.append)
    redactor.write_masked(b"anything\n")
    assert b"".join(out) == MASK_BYTES + b"\n"


# -- pyserial URLs ----------------------------------------------------------------------------


def test_loop_url_through_open_stream():
    stream = open_stream("loop://", baudrate=9600)
    assert isinstance(stream, SerialStream) and "loop://" in stream.description
    assert stream.read(100, 0.05) == b""  # timeout: empty, promptly
    stream.write(b"hello serial\n")
    assert read_until(stream, b"\n") == b"hello serial\n"
    stream.close()
    with pytest.raises(DeviceDisconnected):
        stream.read(1, 0.01)


def test_console_runs_over_pyserial_loop():
    """loop:// echoes what is sent: enough to exercise expect, send and timeouts on a port."""
    with Console(open_stream("loop://"), name="loop", default_timeout=2) as console:
        console.sendline("AT+CGMI")
        assert console.expect([r"never", r"AT\+CGMI\n"]) == 1


def test_socket_url_through_open_stream_and_peer_close():
    peer = FakeTcpPeer()
    host, port = peer.address
    stream = open_stream(f"socket://{host}:{port}")
    assert isinstance(stream, SerialStream)
    connection = peer.peer()
    connection.sendall(b"U-Boot 2023.01\r\n=> ")
    assert read_until(stream, b"=> ").endswith(b"=> ")
    stream.write(b"version\n")
    connection.settimeout(2)
    assert connection.recv(100) == b"version\n"
    connection.close()
    with pytest.raises(DeviceDisconnected):
        read_until(stream, b"never", timeout=2)
    stream.close()
    peer.close()


def test_an_unopenable_port_is_a_device_error(tmp_path):
    with pytest.raises(DeviceError):
        open_stream(str(tmp_path / "ttyUSB-missing"))


# -- sockets ----------------------------------------------------------------------------------


def test_tcp_url_and_disconnect():
    peer = FakeTcpPeer()
    host, port = peer.address
    stream = open_stream(f"tcp://{host}:{port}")
    assert isinstance(stream, SocketStream) and stream.description == f"tcp {host}:{port}"
    connection = peer.peer()
    stream.write(b"ping")
    connection.settimeout(2)
    assert connection.recv(10) == b"ping"
    started = time.monotonic()
    assert stream.read(10, 0.2) == b""
    assert 0.15 < time.monotonic() - started < 1.0
    connection.close()
    with pytest.raises(DeviceDisconnected):
        stream.read(10, 2)
    stream.close()
    peer.close()


def test_unix_socket_by_url_and_by_path(tmp_path):
    path = str(tmp_path / "console.sock")
    for url in (f"unix://{path}", path):
        peer = FakeTcpPeer(socket.AF_UNIX, path)
        stream = open_stream(url)
        assert isinstance(stream, UnixSocketStream)
        peer.peer().sendall(b"qemu serial\n")
        assert read_until(stream, b"\n") == b"qemu serial\n"
        stream.close()
        peer.close()
        os.unlink(path)


def test_connection_refused_is_a_device_error():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(DeviceError, match="cannot connect"):
        open_stream(f"tcp://127.0.0.1:{port}", connect_timeout=2)


def test_bad_urls_are_rejected():
    with pytest.raises(ValueError):
        open_stream("tcp://localhost")
    with pytest.raises(ValueError):
        open_stream("unix://")


# -- telnet -----------------------------------------------------------------------------------


def test_telnet_negotiation_is_answered_and_stripped():
    """FakeTcpPeer plays a telnet server that negotiates in pieces, as busybox telnetd does."""
    peer = FakeTcpPeer()
    host, port = peer.address
    stream = open_stream(f"telnet://{host}:{port}")
    assert isinstance(stream, TelnetStream)
    server = peer.peer()
    server.settimeout(2)
    offer = bytes([IAC, DO, ECHO, IAC, DO, NAWS, IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, 24])
    server.sendall(offer[:4])
    assert stream.read(100, 0.2) == b""  # negotiation only: no data
    server.sendall(offer[4:] + b"login")
    server.sendall(bytes([IAC]))  # split IAC IAC (a literal 0xff byte)
    server.sendall(bytes([IAC]) + b": " + bytes([IAC, SB, 24, 1, IAC, SE]))
    assert read_until(stream, b": ") == b"login\xff: "
    replies = b""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and replies.count(bytes([IAC])) < 7:
        replies += server.recv(100)
    assert bytes([IAC, WONT, ECHO]) in replies
    assert bytes([IAC, WILL, NAWS, IAC, SB, NAWS, 0, 200, 0, 50, IAC, SE]) in replies
    assert bytes([IAC, 0xFD, ECHO]) in replies and bytes([IAC, 0xFD, SGA]) in replies  # DO ECHO, DO SGA
    assert bytes([IAC, WONT, 24]) in replies
    server.sendall(bytes([IAC, WILL, ECHO]))  # repeated: no reply, or negotiation could loop
    stream.write(b"root\xff\n")
    data = server.recv(100)
    assert data == b"root\xff\xff\n"
    stream.close()
    peer.close()


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(BUSYBOX), reason="needs root and busybox")
def test_real_busybox_telnetd(tmp_path):
    """Real telnetd; its 'login' program is a fixed script, so no shell is exposed on the port."""
    program = tmp_path / "fixed-login"
    program.write_text(
        f"#!{BUSYBOX} sh\nstty -echo\nprintf 'fixed login: '\nread user\n"
        "echo \"cols=$(stty size | cut -d' ' -f2) user=$user\"\n"
    )
    program.chmod(0o755)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    daemon = subprocess.Popen(
        [BUSYBOX, "telnetd", "-F", "-b", f"127.0.0.1:{port}", "-l", str(program)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # busybox stty believes COLUMNS/LINES over the terminal; pytest's environment may set them.
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                stream = open_stream(f"telnet://127.0.0.1:{port}", connect_timeout=1)
                break
            except DeviceError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with Console(stream, name="telnetd", default_timeout=5) as console:
            console.expect([r"fixed login: $"])
            console.sendline("root")
            console.expect([r"cols=\d+ user=root\n"])
            assert console.match is not None and console.match.group(0) == "cols=200 user=root\n"
    finally:
        daemon.terminate()
        daemon.wait(5)


# -- a child on a pty -------------------------------------------------------------------------


def test_process_stream_end_of_program_is_disconnected():
    stream = open_process(["/bin/sh", "-c", "echo bye"])
    assert read_until(stream, b"bye").startswith(b"bye")
    with pytest.raises(DeviceDisconnected):
        read_until(stream, b"never", timeout=3)
    stream.close()


def open_process(argv: list[str]) -> ProcessStream:
    return ProcessStream(argv, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def test_process_stream_close_ends_the_child_and_reports_window_size():
    stream = open_process(["/bin/sh", "-c", "stty size; sleep 60"])
    assert b"50 200" in read_until(stream, b"200")
    started = time.monotonic()
    stream.close()
    assert stream.process.poll() is not None
    assert time.monotonic() - started < 3
    with pytest.raises(DeviceDisconnected):
        stream.write(b"x")


def test_missing_program_is_a_device_error(tmp_path):
    with pytest.raises(DeviceError, match="cannot start"):
        ProcessStream([str(Path(tmp_path) / "no-such-ssh")])


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="busybox not installed")
def test_console_over_a_password_first_program():
    """Like the ssh client: the first prompt asks for the password."""
    script = (
        'printf "root@device\'s password: "; stty -echo; read pw; stty echo; echo; '
        'if [ "$pw" = sesame ]; then PS1="# " exec ' + BUSYBOX + " sh -i; fi; "
        'echo "Permission denied, please try again."; printf "password: "; sleep 5'
    )
    settings = LoginSettings(username="root", password="sesame", failure_pattern=r"Permission denied")
    for password, expected in (("wrong", False), ("sesame", True)):
        with Console(open_process([BUSYBOX, "sh", "-c", script]), name="ssh-like") as console:
            assert console.try_login("root", password, settings, timeout=5) is expected
            if expected:
                assert console.run("echo ok").output == "ok"


def test_a_digit_only_secret_is_masked_as_a_number_of_its_own_not_inside_longer_numbers() -> None:
    text = json.dumps({"last_seen": 1796221478461.5, "sms": "PIN 8461 SERVER x", "ussd": "*8461#"})
    redacted = redact_text(text, ["8461"])
    data = json.loads(redacted)  # still JSON: the timestamp is untouched
    assert data["last_seen"] == 1796221478461.5
    assert data["sms"] == "PIN ******** SERVER x" and data["ussd"] == "*********#"
    assert redact_text("pw Hs7-9041 and 19041", ["Hs7-9041"]) == "pw ******** and 19041"
