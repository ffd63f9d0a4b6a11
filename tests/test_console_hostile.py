"""No console wait outlives its timeout, whatever the device prints or the profile's patterns are.

A prompt pattern that backtracks exponentially once made a 5 s login wait take 74 s; a device
that floods the console without a prompt made the unconsumed text grow without limit.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

import harness.transports.console as console_module
from harness.errors import DeviceError, DeviceTimeout
from harness.transports.console import Console, LoginSettings
from harness.transports.stream import ProcessStream, SocketStream

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
# Each backtracks exponentially on "aaaa...a!" in the `re` engine (minutes on 40 a's); the `regex`
# engine sees through `(a+)+$` but not the other two.
CATASTROPHIC = [r"(a|aa)+$", r"(a+)+$", r"(\w|\w\w)+ ?$"]


class Chatter(threading.Thread):
    """The device side of a socketpair that prints `text` again and again until stopped."""

    def __init__(self, sock: socket.socket, text: bytes, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.sock, self.text, self.pause = sock, text, pause
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.sock.sendall(self.text)
                time.sleep(self.pause)
        except OSError:
            pass


def _console_with(text: bytes, pause: float = 0.05) -> tuple[Console, Chatter]:
    ours, theirs = socket.socketpair()
    chatter = Chatter(theirs, text, pause)
    chatter.start()
    console = Console(SocketStream.from_socket(ours, "socketpair"), name="hostile", wake_interval=0.5)
    return console, chatter


def _assert_bounded(timeout: float, elapsed: float, spent: float) -> None:
    """The wait ended near its deadline. The work done is bounded tightly (CPU seconds: a
    backtracking search burns them); the wall time only loosely, as a loaded host stretches it."""
    assert spent < timeout + 2.5, f"a {timeout} s wait spent {spent:.1f} s of CPU"
    assert elapsed < timeout + 10, f"a {timeout} s wait took {elapsed:.1f} s"


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_backtracking_prompt_pattern_cannot_outlive_the_login_wait(pattern: str) -> None:
    console, chatter = _console_with(b"a" * 40 + b"!")
    settings = LoginSettings(username="root", password="pw", login_prompt=pattern)
    try:
        started, cpu = time.monotonic(), time.process_time()
        with pytest.raises(DeviceTimeout) as caught:
            console.login(settings, timeout=2)
        elapsed, spent = time.monotonic() - started, time.process_time() - cpu
    finally:
        chatter.stop.set()
        console.close()
    _assert_bounded(2, elapsed, spent)
    if pattern != r"(a+)+$":
        assert repr(pattern) in str(caught.value) and "backtracks" in str(caught.value)


def test_a_backtracking_pattern_in_expect_ends_at_the_deadline() -> None:
    console, chatter = _console_with(b"a" * 60 + b"!", pause=0.01)
    try:
        started, cpu = time.monotonic(), time.process_time()
        with pytest.raises(DeviceTimeout):
            console.expect([r"(a|aa)+$"], timeout=1)
        _assert_bounded(1, time.monotonic() - started, time.process_time() - cpu)
    finally:
        chatter.stop.set()
        console.close()


def test_a_pattern_still_matches_in_a_stream_of_text() -> None:
    """The search window keeps pexpect's `$`: the end of what has arrived."""
    console, chatter = _console_with(b"noise " * 2000 + b"\r\nboard login: ", pause=0.5)
    try:
        assert console.expect([r"login: ?$"], timeout=5) == 0
        assert console.match is not None and console.match.group(0).startswith("login:")
    finally:
        chatter.stop.set()
        console.close()


def test_a_flood_without_a_prompt_keeps_memory_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "MAX_PENDING", 64 * 1024)
    console, chatter = _console_with(b"x" * 65536, pause=0.0)
    try:
        with pytest.raises(DeviceTimeout):
            console.expect([r"never$"], timeout=1.5)
        assert len(console._spawn.pending_text()) <= 64 * 1024 + 65536
        assert console._spawn.dropped > 0
    finally:
        chatter.stop.set()
        console.close()


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="busybox not installed")
def test_output_beyond_the_bound_is_an_error_not_a_truncated_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "MAX_PENDING", 50_000)
    stream = ProcessStream(
        [BUSYBOX, "sh", "-i"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PS1": "~ # ", "TERM": "vt100"},
        columns=200,
    )
    with Console(stream, name="busybox", default_timeout=20) as console:
        console.login(LoginSettings(username="root", password="x"), timeout=5)
        with pytest.raises(DeviceError, match="more than 50000 characters"):
            console.run("seq 1 40000")
        assert console.run("echo still here").output == "still here"
