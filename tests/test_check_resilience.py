"""The resilience checks both ways, and the device-activity reader on crafted real pcap files."""

from __future__ import annotations

from pathlib import Path

from support.hostile_captures import DEVICE, PEER, START, tcp_frame, udp_frame

from harness.analysis.capture.activity import DeviceActivity, PeerActivity, device_activity
from harness.analysis.capture.pcapio import PcapWriter
from harness.checks.resilience import (
    Outage,
    judge_backoff,
    judge_local_operation,
    judge_resumption,
)
from harness.results.verdicts import Verdict

OUTAGE = Outage("network link", before_from=0.0, cut_at=100.0, restored_at=130.0, observed_until=190.0)
SYN, SYN_ACK, ACK = 0x02, 0x12, 0x10


def _peer(sent=(), received=(), attempts=(), name=("udp", "192.0.2.2", 5684)) -> PeerActivity:
    return PeerActivity(*name, sent=list(sent), received=list(received), attempts=list(attempts))


def _activity(*peers: PeerActivity, device_packets=None) -> DeviceActivity:
    packets = device_packets if device_packets is not None else sorted(t for p in peers for t in p.sent)
    return DeviceActivity(peers=list(peers), device_packets=packets)


def _periodic(start: float, end: float, every: float) -> list[float]:
    times, now = [], start
    while now < end:
        times.append(now)
        now += every
    return times


def test_console_answer_during_the_cut():
    assert judge_local_operation("network link", "m-1", "m-1\n", 0).verdict is Verdict.PASS
    assert judge_local_operation("network link", "m-1", None, None).verdict is Verdict.FAIL
    assert judge_local_operation("network link", "m-1", "sh: error", 127).verdict is Verdict.FAIL


def test_resumed_telemetry_passes():
    telemetry = _peer(_periodic(10, 100, 5) + _periodic(135, 190, 5), _periodic(10.1, 100, 5) + [135.1])
    outcome = judge_resumption(_activity(telemetry), OUTAGE, bound_s=30)
    assert outcome.verdict is Verdict.PASS, outcome.reason
    assert "resumed after" in outcome.measurements[0].name


def test_a_client_that_gave_up_fails():
    gave_up = _peer(_periodic(10, 100, 5) + [101, 102], _periodic(10.1, 100, 5))
    kept = _peer(_periodic(10, 190, 5), _periodic(10.1, 190, 5), name=("tcp", "192.0.2.2", 6514))
    outcome = judge_resumption(_activity(gave_up, kept), OUTAGE, bound_s=30)
    assert outcome.verdict is Verdict.FAIL
    assert "udp 192.0.2.2:5684" in outcome.reason and "6514" not in outcome.reason


def test_sending_without_an_answer_is_not_resumed():
    unanswered = _peer(_periodic(10, 190, 5), _periodic(10.1, 100, 5))
    assert judge_resumption(_activity(unanswered), OUTAGE, bound_s=30).verdict is Verdict.FAIL


def test_resumption_too_late_fails():
    late = _peer(_periodic(10, 100, 5) + [175], _periodic(10.1, 100, 5) + [175.1])
    assert judge_resumption(_activity(late), OUTAGE, bound_s=30).verdict is Verdict.FAIL


def test_one_off_and_one_way_peers_are_not_expected():
    once = _peer([20], [20.1])
    one_way = _peer(_periodic(10, 100, 5), name=("udp", "192.0.2.9", 514))
    outcome = judge_resumption(_activity(once, one_way), OUTAGE, bound_s=30)
    assert outcome.verdict is Verdict.INCONCLUSIVE


def test_truncated_activity_never_passes():
    telemetry = _peer(_periodic(10, 190, 5), _periodic(10.1, 190, 5))
    activity = _activity(telemetry)
    activity.truncated = True
    assert judge_resumption(activity, OUTAGE, bound_s=30).verdict is Verdict.INCONCLUSIVE
    assert judge_backoff(activity, OUTAGE).verdict is Verdict.INCONCLUSIVE


def test_ordinary_reporting_interval_is_not_a_storm():
    every_15_s = _peer(_periodic(100, 130, 15), attempts=_periodic(100, 130, 15))
    assert judge_backoff(_activity(every_15_s), OUTAGE).verdict is Verdict.PASS


def test_fixed_short_retry_is_a_storm():
    storm = _peer(_periodic(100, 130, 1.1), attempts=_periodic(100, 130, 1.1))
    outcome = judge_backoff(_activity(storm), OUTAGE)
    assert outcome.verdict is Verdict.FAIL
    assert "without backing off" in outcome.reason


def test_exponential_backoff_is_not_a_storm():
    times, gap, now = [], 0.1, 100.0
    while now < 130:
        times.append(now)
        now += gap
        gap *= 1.6
    times = times + _periodic(101, 102, 0.1)  # a quick burst first, then wider and wider
    times.sort()
    assert len(times) >= 10
    assert judge_backoff(_activity(_peer(times, attempts=times)), OUTAGE).verdict is Verdict.PASS


def test_nothing_seen_during_the_outage_is_inconclusive():
    before = _peer(_periodic(10, 100, 5), attempts=_periodic(10, 100, 5))
    assert judge_backoff(_activity(before), OUTAGE).verdict is Verdict.INCONCLUSIVE


def _write(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    with path.open("wb") as handle:
        writer = PcapWriter(handle, 1)
        for when, frame in packets:
            writer.write(when, frame)
    return path


def test_device_activity_reads_peers_attempts_and_ignores_lab_started_flows(tmp_path):
    packets = []
    for index in range(5):  # five DTLS telemetry sessions, each a new source port, answered
        t = START + 5 * index
        packets.append((t, udp_frame(DEVICE, 40000 + index, PEER, 5684, b"\x16hello")))
        packets.append((t + 0.01, udp_frame(PEER, 5684, DEVICE, 40000 + index, b"\x16hello")))
    packets.append((START + 1, tcp_frame(DEVICE, 50000, PEER, 6514, 1, SYN)))  # the device's log export
    packets.append((START + 1.5, tcp_frame(DEVICE, 50000, PEER, 6514, 1, SYN)))  # a SYN retransmission
    packets.append((START + 1.6, tcp_frame(PEER, 6514, DEVICE, 50000, 9, SYN_ACK)))
    packets.append((START + 2, tcp_frame(PEER, 33000, DEVICE, 22, 5, SYN)))  # the lab's SSH login
    packets.append((START + 2.1, tcp_frame(DEVICE, 22, PEER, 33000, 6, SYN_ACK)))
    packets.append((START + 2.2, tcp_frame(DEVICE, 22, PEER, 33000, 7, ACK, b"SSH-2.0")))
    activity = device_activity([_write(tmp_path / "a.pcap", packets)], "10.0.2.15")
    assert [p.name for p in activity.peers] == ["tcp 10.0.2.2:6514", "udp 10.0.2.2:5684"]
    telemetry = activity.peer("udp 10.0.2.2:5684")
    assert len(telemetry.attempts) == 5 and len(telemetry.received) == 5
    log = activity.peer("tcp 10.0.2.2:6514")
    assert log.attempts == [START + 1, START + 1.5] and log.received == [START + 1.6]
    assert not activity.truncated and not activity.unreadable


def test_device_activity_is_bounded_and_names_a_damaged_file(tmp_path):
    packets = [
        (START + i * 0.001, udp_frame(DEVICE, 1000 + i, bytes([10, 0, i // 256 % 256, i % 256]), 9, b"x"))
        for i in range(300)
    ]
    activity = device_activity([_write(tmp_path / "flood.pcap", packets)], "10.0.2.15")
    assert activity.truncated and len(activity.peers) == 256
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all, longer than a header")
    assert device_activity([bad], "10.0.2.15").unreadable


def test_a_few_quick_retries_are_not_a_storm():
    few = _peer(attempts=_periodic(100, 105, 1.0))
    assert len(few.attempts) < 6
    assert judge_backoff(_activity(few, device_packets=few.attempts), OUTAGE).verdict is Verdict.PASS


def test_a_storm_of_two_second_retries_after_a_first_long_attempt_fails():
    seen = [100.0] + _periodic(114, 130, 2.2)  # the shape measured on the reconnect-storm knob
    outcome = judge_backoff(_activity(_peer(seen, attempts=seen)), OUTAGE)
    assert outcome.verdict is Verdict.FAIL, outcome.reason
