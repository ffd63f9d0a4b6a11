"""Fast path of capture analysis on real reference captures (tests/data/pcaps) and on
rewritten copies of them (other link types, IPv6, VLAN, retransmissions, reordering)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from support.lab_sessions import DECOY_PAYLOAD, REFERENCE_CAPTURES

from harness.analysis.capture import classify_flows, suite_name, suite_weakness, write_window
from harness.analysis.capture.handshake import parse_server_hello
from harness.analysis.capture.pcapio import PcapWriter, iter_packets
from harness.analysis.capture.records import walk_dtls
from harness.analysis.capture.suites import CIPHER_SUITES

PCAPS = Path(__file__).parent / "data" / "pcaps"


@pytest.mark.parametrize("reference", REFERENCE_CAPTURES, ids=lambda r: r.name)
def test_reference_capture_is_classified_as_recorded(reference):
    flows = classify_flows(PCAPS / reference.name)
    assert flows, reference.name
    for flow in flows:
        assert flow.kind == reference.kind, flow
        assert flow.negotiated_version == reference.negotiated_version
        if reference.kind == "plaintext":
            assert flow.plaintext_sample and len(flow.plaintext_sample) <= 64
        else:
            assert flow.plaintext_sample == b""
            assert flow.negotiated_suite in flow.offered_suites
            assert suite_weakness(flow.negotiated_suite) == reference.weakness


def test_dtls12_client_hello_record_version_is_not_the_negotiated_version():
    (flow,) = classify_flows(PCAPS / "dtls12.pcap")
    assert flow.record_versions == ["DTLS 1.0", "DTLS 1.2"]
    assert flow.negotiated_version == "DTLS 1.2"
    assert flow.negotiated_suite == 0xC02C
    assert len(flow.offered_suites) > 10  # offered != negotiated: only the ServerHello counts
    assert any(suite_weakness(code) is None for code in flow.offered_suites)


def test_tls13_version_comes_from_supported_versions():
    (flow,) = classify_flows(PCAPS / "tls13.pcapng")
    assert flow.negotiated_version == "TLS 1.3"
    assert "TLS 1.3" not in flow.record_versions
    assert flow.negotiated_suite in (0x1301, 0x1302, 0x1303)


def test_client_is_the_side_that_sent_first():
    for name in ("dtls12.pcap", "tls12.pcap"):
        (flow,) = classify_flows(PCAPS / name)
        first = next(iter_packets(PCAPS / name))
        assert flow.first_seen == first[0]
        assert flow.client[1] != flow.server[1]
        assert flow.describe().startswith(flow.protocol + " 127.0.0.1:")


def test_decoy_starting_like_dtls_is_plaintext():
    flows = classify_flows(PCAPS / "plaintext.pcap")
    decoy = [f for f in flows if f.plaintext_sample.startswith(b"\x16\xfe\xfd")]
    assert len(decoy) == 1 and decoy[0].kind == "plaintext"
    assert walk_dtls(DECOY_PAYLOAD, len(DECOY_PAYLOAD)) is None


def test_walk_dtls_requires_records_to_fill_the_datagram():
    record = bytes([23, 0xFE, 0xFD]) + bytes(8) + struct.pack(">H", 4) + b"abcd"
    assert walk_dtls(record, len(record)) == [(23, 0xFEFD, 0, 13, 4)]
    assert walk_dtls(record * 2, 2 * len(record)) is not None
    assert walk_dtls(record + b"x", len(record) + 1) is None
    assert walk_dtls(record[:-1], len(record) - 1) is None
    assert walk_dtls(bytes([23, 0x03, 0x03]) + record[3:], len(record)) is None
    assert walk_dtls(b"", 0) == []


def test_unified_dtls13_records_only_after_dtls_was_seen():
    unified = bytes([0x2C, 0x01, 0x00, 0x00, 0x03]) + b"xyz"  # 001 0 1 1 00: 16-bit seq, length present
    assert walk_dtls(unified, len(unified)) is None
    assert walk_dtls(unified, len(unified), allow_unified=True) == [(-1, 0, 0, 5, 3)]
    no_length = bytes([0x20, 0x07]) + b"rest-of-datagram"  # 8-bit seq, no length: fills the datagram
    assert walk_dtls(no_length, len(no_length), allow_unified=True) == [(-1, 0, 0, 2, 16)]


def test_server_hello_supported_versions_overrides_legacy_version():
    extensions = struct.pack(">HHH", 0x002B, 2, 0x0304)
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x00"
        + b"\x13\x01"
        + b"\x00"
        + struct.pack(">H", len(extensions))
        + extensions
    )
    hello = parse_server_hello(body)
    assert (hello.version, hello.suite, hello.retry) == (0x0304, 0x1301, False)


def test_suite_table_flags_every_weak_family():
    assert suite_name(0xC02C) == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    assert suite_name(0x0A0A).startswith("GREASE")
    assert suite_name(0xFFFE) == "unknown (0xFFFE)"
    expected = {
        0x0000: "NULL",
        0x0002: "NULL",
        0xC006: "NULL",
        0x0003: "EXPORT",
        0x0005: "RC4",
        0x0009: "DES",
        0x000A: "3DES",
        0xC012: "3DES",
        0x0034: "anon",
        0xC018: "anon",
    }
    for code, weakness in expected.items():
        assert suite_weakness(code) == weakness, suite_name(code)
    for code in (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xCCA8, 0x009C, 0xFFFE, 0x00FF):
        assert suite_weakness(code) is None, suite_name(code)
    for code, name in CIPHER_SUITES.items():
        flagged = any(word in name for word in ("_NULL_", "EXPORT", "RC4", "_DES", "3DES", "anon"))
        assert (suite_weakness(code) is not None) == flagged or code == 0x0000, name


def test_time_window_and_evidence_slice(tmp_path):
    source = PCAPS / "plaintext.pcap"
    flows = classify_flows(source)
    second = flows[1]
    assert classify_flows(source, start=second.first_seen, end=second.last_seen)[0].server == second.server
    assert classify_flows(source, start=flows[-1].last_seen + 1) == []
    target = tmp_path / "evidence" / "slice.pcap"
    count = write_window(source, target, second.first_seen, second.last_seen)
    assert count == second.packets
    (sliced,) = classify_flows(target)
    assert (sliced.kind, sliced.server, sliced.packets) == ("plaintext", second.server, second.packets)


def test_write_window_from_pcapng(tmp_path):
    source = PCAPS / "tls13.pcapng"
    (flow,) = classify_flows(source)
    count = write_window(source, tmp_path / "w.pcap", flow.first_seen, flow.last_seen)
    assert count == flow.packets
    (copy,) = classify_flows(tmp_path / "w.pcap")
    assert (copy.kind, copy.negotiated_version, copy.negotiated_suite) == (
        "tls",
        "TLS 1.3",
        flow.negotiated_suite,
    )
    assert abs(copy.first_seen - flow.first_seen) < 1e-5


def _rewrite(source: Path, target: Path, linktype: int, frame_map: Callable[[bytes], bytes | None]) -> None:
    with open(target, "wb") as handle:
        writer = PcapWriter(handle, linktype)
        for ts, _, frame in iter_packets(source):
            new = frame_map(frame)
            if new is not None:
                writer.write(ts, new)


def _sll(frame: bytes) -> bytes:
    return struct.pack(">HHH8sH", 0, 772, 6, bytes(8), 0x0800) + frame[14:]


def _sll2(frame: bytes) -> bytes:
    return struct.pack(">HHIHBB8s", 0x0800, 0, 1, 772, 0, 6, bytes(8)) + frame[14:]


def _vlan(frame: bytes) -> bytes:
    return frame[:12] + b"\x81\x00\x00\x2a" + frame[12:]


def _raw(frame: bytes) -> bytes:
    return frame[14:]


def _ipv6(frame: bytes) -> bytes:
    ip = frame[14:]
    header_len = (ip[0] & 0x0F) * 4
    total = (ip[2] << 8) | ip[3]
    payload = ip[header_len:total]
    src = b"\xfd\x00" + bytes(10) + ip[12:16]
    dst = b"\xfd\x00" + bytes(10) + ip[16:20]
    header = struct.pack(">IHBB", 6 << 28, len(payload), ip[9], 64) + src + dst
    return frame[:12] + b"\x86\xdd" + header + payload


@pytest.mark.parametrize(
    ("linktype", "frame_map"),
    [(113, _sll), (276, _sll2), (1, _vlan), (101, _raw), (228, _raw), (1, _ipv6)],
    ids=["sll", "sll2", "vlan", "raw", "ipv4", "ipv6"],
)
@pytest.mark.parametrize("name", ["dtls12_fragmented.pcap", "tls12_split.pcap", "plaintext.pcap"])
def test_link_types_and_ipv6_give_the_same_flows(tmp_path, name, linktype, frame_map):
    original = classify_flows(PCAPS / name)
    target = tmp_path / "rewritten.pcap"
    _rewrite(PCAPS / name, target, linktype, frame_map)
    rewritten = classify_flows(target)
    assert [_essence(f) for f in rewritten] == [_essence(f) for f in original]
    if frame_map is _ipv6:
        assert all(f.client[0].startswith("fd00::") for f in rewritten)


def _essence(flow):
    return (
        flow.protocol,
        flow.client[1],
        flow.server[1],
        flow.kind,
        flow.record_versions,
        flow.negotiated_version,
        flow.negotiated_suite,
        flow.offered_suites,
        flow.packets,
        flow.payload_bytes,
        flow.plaintext_sample,
    )


def test_tcp_retransmissions_and_reordering_are_tolerated(tmp_path):
    source = PCAPS / "tls12_split.pcap"
    packets = list(iter_packets(source))
    with_payload = [i for i, (_, _, frame) in enumerate(packets) if len(frame) > 66 + 12]
    first, second = with_payload[1], with_payload[2]
    shuffled = list(packets)
    shuffled[first], shuffled[second] = shuffled[second], shuffled[first]  # out of order
    shuffled.insert(second + 1, packets[with_payload[0]])  # a late retransmission
    shuffled.insert(3, packets[with_payload[3]])  # a segment far ahead of its turn
    target = tmp_path / "messy.pcap"
    with open(target, "wb") as handle:
        writer = PcapWriter(handle, 1)
        for ts, _, frame in shuffled:
            writer.write(ts, frame)
    original = {f.client: f for f in classify_flows(source)}
    for flow in classify_flows(target):
        reference = original[flow.client]
        assert (flow.kind, flow.negotiated_suite, flow.negotiated_version, flow.offered_suites) == (
            reference.kind,
            reference.negotiated_suite,
            reference.negotiated_version,
            reference.offered_suites,
        )


def test_capture_cut_short_is_read_up_to_the_last_whole_packet(tmp_path):
    data = (PCAPS / "dtls12.pcap").read_bytes()
    target = tmp_path / "cut.pcap"
    target.write_bytes(data[:-7])
    (flow,) = classify_flows(target)
    assert flow.kind == "dtls"
    assert flow.packets == sum(1 for _ in iter_packets(PCAPS / "dtls12.pcap")) - 1
    cut_ng = tmp_path / "cut.pcapng"
    cut_ng.write_bytes((PCAPS / "tls13.pcapng").read_bytes()[:-5])
    assert classify_flows(cut_ng)[0].kind == "tls"


def test_mid_stream_tcp_plaintext_without_handshake_is_plaintext(tmp_path):
    source = PCAPS / "plaintext.pcap"
    target = tmp_path / "midstream.pcap"
    _rewrite(source, target, 1, lambda f: None if f[14 + 9] == 6 and f[14 + 20 + 13] & 0x02 else f)
    tcp = [f for f in classify_flows(target) if f.protocol == "tcp"]
    assert tcp and tcp[0].kind == "plaintext" and tcp[0].plaintext_sample.startswith(b"POST")


def test_not_a_capture_is_reported(tmp_path):
    from harness.analysis.capture.pcapio import CaptureFormatError

    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"this is not a capture file")
    with pytest.raises(CaptureFormatError):
        classify_flows(bogus)
