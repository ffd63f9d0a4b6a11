"""The lab's DTLS telemetry peer keeps answering after a client vanished mid-session.

openssl s_server serves one DTLS session at a time; a device whose `timeout` kills a slow
handshake leaves it waiting on that session, and every later reading went unanswered (FS38-04
then INCONCLUSIVE: "DTLS handshake never completed"). Real openssl on both sides.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import harness.lab.services.telemetry as telemetry
from harness.lab.services.telemetry import DtlsPeer
from harness.util.ports import free_port


def _reading(port: int, text: str, timeout: float = 20) -> int:
    """One device-like session: send a line, close (as hilsec-telemetry does)."""
    done = subprocess.run(
        ["openssl", "s_client", "-dtls1_2", "-quiet", "-no_ign_eof", "-connect", f"127.0.0.1:{port}"],
        input=f"{text}\n".encode(), capture_output=True, timeout=timeout,
    )  # fmt: skip
    return done.returncode


def _log_has(peer: DtlsPeer, text: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in peer.log_path.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def _next_reading_answered(peer: DtlsPeer, port: int, text: str, within_s: float) -> bool:
    """A device's readings, one after another, until one is answered (bounded)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _reading(port, text, timeout=max(1.0, min(30.0, deadline - time.monotonic()))) == 0:
            return _log_has(peer, text)
        time.sleep(1.0)
    return False


def test_sessions_in_a_row_and_after_an_abandoned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "SESSION_LIMIT_S", 3.0)
    port = free_port("udp")
    peer = DtlsPeer(port, tmp_path)
    peer.start()
    try:
        assert _reading(port, "reading-1") == 0 and _log_has(peer, "reading-1")
        assert _reading(port, "reading-2") == 0 and _log_has(peer, "reading-2")
        # A client killed mid-session: connected, never closes.
        abandoned = subprocess.Popen(
            ["openssl", "s_client", "-dtls1_2", "-quiet", "-connect", f"127.0.0.1:{port}"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.5)
        abandoned.kill()
        abandoned.wait(timeout=5)
        # The device's next readings are answered. A reading that meets the stuck session's
        # replacement mid-handshake fails as it would on a device, which sends the next one.
        answered = _next_reading_answered(peer, port, "reading-3", within_s=60)
        assert answered, peer.log_path.read_text(errors="replace")[-2000:]
        assert peer.replaced_stuck >= 1
    finally:
        peer.stop()
