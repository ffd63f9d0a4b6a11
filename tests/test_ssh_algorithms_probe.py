"""harness.probes.ssh_algorithms against hostile and broken servers: bounded, escaped, never a crash."""

from __future__ import annotations

import socket
import threading
import time

from harness.probes.ssh_algorithms import HostKey, _name, _names, _sized, observe_ssh


class _Talker(threading.Thread):
    """A TCP server on localhost that sends `reply` to each connection and closes it."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.reply = reply
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.sendall(self.reply)
                    time.sleep(0.2)
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=2)
        self.server.close()


def test_a_banner_then_garbage_is_an_error_not_a_crash() -> None:
    talker = _Talker(b"SSH-2.0-evil\x1b[2J\r\n" + b"\xff" * 5000)
    talker.start()
    try:
        started = time.monotonic()
        offer = observe_ssh("127.0.0.1", talker.port, 22)
        assert time.monotonic() - started < 90
    finally:
        talker.stop()
    assert offer.error and not offer.host_keys
    assert "\x1b" not in offer.summary()


def test_nothing_listening_is_an_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    offer = observe_ssh("127.0.0.1", port, 2222)
    assert offer.error and offer.port == 2222


def test_odd_names_are_escaped_and_lists_bounded() -> None:
    assert _name("aes128-ctr") == "aes128-ctr"
    assert "\x1b" not in _name("evil\x1b[31m")
    assert len(_names([{"algorithm": f"a{i}"} for i in range(1000)])) == 64
    assert _names("not a list") == [] and _names([1, None, {"algorithm": "x"}]) == ["x"]


def test_a_key_openssh_saw_gets_its_size_from_the_same_key() -> None:
    keys = [
        HostKey("rsa-sha2-256", "served", "ssh-rsa", 1024, fingerprint="abc"),
        HostKey("ssh-rsa", "served", "ssh-rsa", fingerprint="abc"),
        HostKey("ssh-dss", "served", "ssh-dss", fingerprint="other"),
    ]
    assert [k.bits for k in _sized(keys)] == [1024, 1024, None]
