"""Fuzzing the parsers of device-made evidence: whatever bytes a capture or a firmware image holds,
the analysis ends with flows or named unreadable parts, never a traceback."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.hostile_captures import DEVICE, PEER, START, tcp_frame, udp_frame

from harness.analysis.capture import analyze_capture
from harness.analysis.capture.pcapio import PcapWriter
from harness.analysis.firmware import UnpackLimits, scan_firmware

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL_LIMITS = UnpackLimits(total_bytes=8 << 20, files=200, depth=4, seconds=20)


def _write(data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(delete=False, suffix=".bin")  # noqa: SIM115
    with handle:
        handle.write(data)
    return Path(handle.name)


@FUZZ
@given(st.binary(max_size=4096))
def test_any_capture_file_is_flows_or_a_named_problem(data):
    for head in (b"", struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1), b"\x0a\x0d\x0d\x0a"):
        path = _write(head + data)
        try:
            analysis = analyze_capture([path])
            assert isinstance(analysis.flows, list)
        finally:
            path.unlink()


@FUZZ
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.binary(max_size=600)), max_size=30))
def test_any_packet_payloads_are_classified(packets):
    """DTLS- and TLS-shaped or random payloads, in either direction, over UDP and TCP."""
    path = _write(b"")
    try:
        with open(path, "wb") as handle:
            writer = PcapWriter(handle, 1)
            for index, (from_device, over_tcp, payload) in enumerate(packets):
                src, dst = (DEVICE, PEER) if from_device else (PEER, DEVICE)
                sport, dport = (40000, 5684) if from_device else (5684, 40000)
                if over_tcp:
                    frame = tcp_frame(src, sport, dst, dport, 1000 + index * 97, 0x18, payload)
                else:
                    frame = udp_frame(src, sport, dst, dport, payload)
                writer.write(START + index, frame)
        analysis = analyze_capture([path])
        assert not analysis.gaps() and len(analysis.flows) <= 2
    finally:
        path.unlink()


@FUZZ
@given(
    st.sampled_from(
        [
            b"070701",
            b"\x1f\x8b\x08",
            b"\xfd7zXZ\x00",
            b"\x28\xb5\x2f\xfd",
            b"hsqs",
            b"\xd0\x0d\xfe\xed",
            b"UBI#",
        ]
    ),
    st.binary(max_size=2048),
)
def test_any_image_bytes_are_files_or_named_unreadable_parts(magic, data):
    path = _write(magic + data)
    try:
        scan = scan_firmware(path, [("root", "admin")], limits=SMALL_LIMITS)
        assert scan.unreadable or scan.files >= 0
    finally:
        path.unlink()
