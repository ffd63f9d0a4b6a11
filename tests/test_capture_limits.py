"""The capture analysis stays within its documented memory limits on hostile captures, and what it
could not follow is said, never passed. Limits are checked by counting the state it retains (bytes
in reassembly buffers, flows), not by timing or by the process's memory."""

from __future__ import annotations

import struct
from pathlib import Path

from support.hostile_captures import (
    DEVICE,
    PEER,
    START,
    dtls_record,
    hello_fragment,
    udp_frame,
    write_fake_dtls,
    write_flow_flood,
    write_fragment_storm,
    write_tcp_gap_storm,
)

from harness.analysis.capture import CaptureLimits, FlowTable, analyze_capture
from harness.analysis.capture.limits import (
    DEFAULT_LIMITS,
    DEFAULT_RETAINED_BYTES,
    MAX_HELLO,
    MAX_PENDING_BYTES,
    MAX_PENDING_HELLOS,
    MAX_PENDING_SEGMENTS,
)
from harness.analysis.capture.pcapio import PcapWriter, iter_packets
from harness.checks.secure_communication import judge_traffic
from harness.results.verdicts import Verdict

DEVICE_ADDRESS = "10.0.2.15"


def _feed(pcap: Path, limits: CaptureLimits = DEFAULT_LIMITS) -> FlowTable:
    table = FlowTable(limits)
    table.feed(iter_packets(pcap), None, None)
    return table


def test_dtls_fragment_storm_keeps_each_flow_and_the_capture_within_limits(tmp_path):
    pcap = tmp_path / "storm.pcap"
    write_fragment_storm(pcap, size=1_800_000)
    assert pcap.stat().st_size <= 2_000_000
    table = _feed(pcap)
    for state in table.states:
        for assembler in state.hellos:
            assert assembler.held <= MAX_HELLO
            assert len(assembler._parts) <= MAX_PENDING_HELLOS
    assert table.budget.peak <= DEFAULT_RETAINED_BYTES
    # Only fragments that arrived are kept: far less than the capture itself.
    assert table.budget.peak <= pcap.stat().st_size
    flows = table.flows()
    assert len(flows) == 64 and all(f.hello_overflow for f in flows)


def test_fragment_storm_is_not_passed(tmp_path):
    pcap = tmp_path / "storm.pcap"
    write_fragment_storm(pcap, size=200_000, flows=4)
    outcome = judge_traffic(analyze_capture([pcap]), DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.INCONCLUSIVE
    assert "memory limit" in outcome.reason


def test_per_capture_byte_limit_holds_across_flows(tmp_path):
    pcap = tmp_path / "storm.pcap"
    write_fragment_storm(pcap, size=1_000_000, flows=10, fill=True)
    unlimited = _feed(pcap)
    assert unlimited.budget.peak > 100_000
    for state in unlimited.states:  # 100 KB of fragments a flow: the per-flow limit stopped each
        assert all(assembler.held <= MAX_HELLO for assembler in state.hellos)
        assert state.hellos[0].overflowed
    table = _feed(pcap, CaptureLimits(retained_bytes=100_000))
    assert table.budget.peak <= 100_000
    assert table.budget.refused > 0


def test_tcp_segments_waiting_for_a_gap_stay_within_limits(tmp_path):
    pcap = tmp_path / "gaps.pcap"
    write_tcp_gap_storm(pcap, size=1_800_000)
    table = _feed(pcap)
    for state in table.states:
        for direction in state.tcp:
            assert len(direction.pending) <= MAX_PENDING_SEGMENTS
            assert direction.pending_bytes <= MAX_PENDING_BYTES
            assert direction.held == direction.pending_bytes + len(direction.hello_buffer)
    assert table.budget.peak <= DEFAULT_RETAINED_BYTES
    assert table.budget.held == sum(d.held for s in table.states for d in s.tcp)


def test_flows_past_the_flow_limit_are_counted_and_make_the_verdict_inconclusive(tmp_path):
    pcap = tmp_path / "flood.pcap"
    write_flow_flood(pcap, flows=300)
    analysis = analyze_capture([pcap], limits=CaptureLimits(flows=100))
    assert len(analysis.flows) == 100 and analysis.untracked_flows == 200
    outcome = judge_traffic(analysis, DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is not Verdict.PASS
    assert any("limit of 100 flows" in item for item in outcome.missing)


def test_damaged_file_is_named_and_the_rest_of_the_run_still_judged(tmp_path):
    good, bad = tmp_path / "boot1.pcap", tmp_path / "boot2.pcap"
    with open(good, "wb") as handle:
        PcapWriter(handle, 1).write(START, udp_frame(DEVICE, 40000, PEER, 5683, b"temp=21.5 imei=1"))
    bad.write_bytes(b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 0xFFFFFFF0) + b"\x00" * 40)
    analysis = analyze_capture([good, bad])
    assert len(analysis.flows) == 1 and analysis.unreadable and "boot2.pcap" in analysis.unreadable[0]
    outcome = judge_traffic(analysis, DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.FAIL  # the plaintext in the readable file still counts


def test_fake_dtls_framing_around_plaintext_fails(tmp_path):
    pcap = tmp_path / "fake.pcap"
    write_fake_dtls(pcap)
    (flow,) = analyze_capture([pcap]).flows
    assert flow.kind == "dtls" and flow.application_records == 3
    assert flow.readable_application_data.startswith(b"temp=21.5")
    outcome = judge_traffic(analyze_capture([pcap]), DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.FAIL
    assert "readable plaintext" in outcome.reason and "without a completed handshake" in outcome.reason
    assert "first packet 2026-" in outcome.reason


def _client_hello(version: int) -> bytes:
    body = version.to_bytes(2, "big") + bytes(32) + b"\x00" + b"\x00" + b"\x00\x02\xc0\x2b" + b"\x01\x00"
    return hello_fragment(0, 0, body, msg_len=len(body))


def test_device_offering_only_dtls10_fails_although_the_peer_refused(tmp_path):
    pcap = tmp_path / "dtls10.pcap"
    with open(pcap, "wb") as handle:
        writer = PcapWriter(handle, 1)
        writer.write(
            START,
            udp_frame(DEVICE, 40002, PEER, 5684, dtls_record(22, _client_hello(0xFEFF), version=0xFEFF)),
        )
        alert = dtls_record(21, b"\x02\x46", version=0xFEFF)  # fatal protocol_version
        writer.write(START + 0.01, udp_frame(PEER, 5684, DEVICE, 40002, alert))
    (flow,) = analyze_capture([pcap]).flows
    assert flow.offered_versions == ["DTLS 1.0"] and flow.negotiated_version is None
    outcome = judge_traffic(analyze_capture([pcap]), DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.FAIL and "only deprecated DTLS 1.0" in outcome.reason


def test_unanswered_current_offer_is_undetermined_not_pass(tmp_path):
    pcap = tmp_path / "dtls12-unanswered.pcap"
    with open(pcap, "wb") as handle:
        writer = PcapWriter(handle, 1)
        writer.write(
            START,
            udp_frame(DEVICE, 40003, PEER, 5684, dtls_record(22, _client_hello(0xFEFD), version=0xFEFF)),
        )
    outcome = judge_traffic(analyze_capture([pcap]), DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.INCONCLUSIVE and "never completed" in outcome.reason


def test_server_hello_sent_by_the_device_itself_is_no_handshake(tmp_path):
    pcap = tmp_path / "self-hello.pcap"
    server_hello = bytes.fromhex("fefd") + bytes(32) + b"\x00" + b"\xc0\x2b\x00"
    with open(pcap, "wb") as handle:
        writer = PcapWriter(handle, 1)
        hello = hello_fragment(0, 0, server_hello, msg_len=len(server_hello), msg_type=2)
        writer.write(START, udp_frame(DEVICE, 40004, PEER, 5684, dtls_record(22, hello)))
        writer.write(
            START + 1, udp_frame(DEVICE, 40004, PEER, 5684, dtls_record(23, bytes(range(200, 248)), epoch=1))
        )
    (flow,) = analyze_capture([pcap]).flows
    assert flow.negotiated_version is None
    outcome = judge_traffic(analyze_capture([pcap]), DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.FAIL and "no ServerHello from the peer" in outcome.reason


def test_every_file_of_the_run_is_judged(tmp_path):
    """A plaintext flow in the first boot's capture fails the run, however long ago it was."""
    first, second = tmp_path / "capture.pcap", tmp_path / "capture-boot2.pcap"
    with open(first, "wb") as handle:
        PcapWriter(handle, 1).write(
            START, udp_frame(DEVICE, 40005, PEER, 5683, b"hello imei=490154203237518")
        )
    write_fake_dtls(second)
    analysis = analyze_capture([first, second])
    assert [f.client[1] for f in analysis.flows] == [40005, 40001]
    outcome = judge_traffic(analysis, DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.FAIL and len(outcome.findings) == 2


def test_a_peer_that_only_alerts_refused_and_proves_no_fake_handshake(tmp_path):
    """An alert from the peer (a refusal, a timeout) is not a session: undetermined, not FAIL."""
    pcap = tmp_path / "alert.pcap"
    with open(pcap, "wb") as handle:
        writer = PcapWriter(handle, 1)
        hello = dtls_record(22, _client_hello(0xFEFD), version=0xFEFF)
        writer.write(START, udp_frame(DEVICE, 40006, PEER, 5684, hello))
        writer.write(START + 0.1, udp_frame(PEER, 5684, DEVICE, 40006, dtls_record(21, b"\x02\x28")))
    outcome = judge_traffic(analyze_capture([pcap]), DEVICE_ADDRESS, observed_seconds=1)
    assert outcome.verdict is Verdict.INCONCLUSIVE
