"""The lab's syslog receiver: parsing, framing, and real UDP/TCP/TLS deliveries on loopback."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.lab.services.base import LabEndpoints
from harness.lab.services.syslog import (
    OctetFramer,
    SyslogReceiver,
    SyslogService,
    parse_syslog,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BUSYBOX_LOGIN = b"<36>Nov 22 10:00:00 login[123]: invalid password for 'root' on 'ttyS0'\n"
RFC5424 = (
    b'<84>1 2026-11-22T10:00:00.123+00:00 hilsec-ref dropbear 153 AUTH [origin ip="10.0.2.15"][x@1 a="b\\]c"] '
    b"\xef\xbb\xbfBad password attempt for 'root' from 10.0.2.2:43144"
)


def test_parses_busybox_rfc3164_without_hostname():
    parsed = parse_syslog(BUSYBOX_LOGIN, now=NOW)
    assert parsed.syntax == "rfc3164"
    assert (parsed.facility, parsed.severity) == ("auth", "warning")
    assert parsed.timestamp == "2026-11-22T10:00:00"
    assert parsed.host is None and parsed.app == "login" and parsed.procid == "123"
    assert parsed.message == "invalid password for 'root' on 'ttyS0'"


def test_parses_rfc3164_with_hostname_and_padded_day():
    parsed = parse_syslog(b"<13>Nov  2 09:08:07 node1 telemetry: seq=1 rc=0", now=NOW)
    assert parsed.timestamp == "2026-11-02T09:08:07"
    assert (parsed.host, parsed.app, parsed.procid, parsed.message) == (
        "node1",
        "telemetry",
        None,
        "seq=1 rc=0",
    )


def test_rfc3164_from_december_received_in_january_is_last_year():
    parsed = parse_syslog(b"<13>Dec 31 23:59:59 app: bye", now=datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert parsed.timestamp == "2026-12-31T23:59:59"


def test_parses_rfc5424_with_structured_data_and_bom():
    parsed = parse_syslog(RFC5424, now=NOW)
    assert parsed.syntax == "rfc5424"
    assert (parsed.facility, parsed.severity) == ("authpriv", "warning")
    assert parsed.timestamp == "2026-11-22T10:00:00.123+00:00"
    assert (parsed.host, parsed.app, parsed.procid) == ("hilsec-ref", "dropbear", "153")
    assert parsed.message == "Bad password attempt for 'root' from 10.0.2.2:43144"


def test_rfc5424_nil_fields_and_no_message():
    parsed = parse_syslog(b"<13>1 - - - - - -", now=NOW)
    assert parsed.syntax == "rfc5424"
    assert parsed.timestamp is None and parsed.host is None and parsed.app is None and parsed.message == ""


def test_message_without_timestamp_or_pri():
    assert parse_syslog(b"<13>app: hello", now=NOW).timestamp is None
    unparsed = parse_syslog(b"just text", now=NOW)
    assert unparsed.syntax == "unparsed" and unparsed.message == "just text"
    assert parse_syslog(b"<999>x", now=NOW).syntax == "unparsed"


def test_framer_octet_counting_across_reads():
    framer = OctetFramer()
    assert framer.feed(b"5 hel") == []
    assert framer.feed(b"lo3 abc") == [b"hello", b"abc"]
    assert framer.feed(b"1") == []
    assert framer.feed(b"0 0123456789") == [b"0123456789"]


def test_framer_lf_and_nul_framing():
    framer = OctetFramer()
    assert framer.feed(b"<13>a: one\n<13>b: two\r\n<13>c: three\0<13>d") == [
        b"<13>a: one",
        b"<13>b: two",
        b"<13>c: three",
    ]
    assert framer.feed(b": four\n") == [b"<13>d: four"]


def test_framer_bounds_memory():
    framer = OctetFramer(max_message=16)
    with pytest.raises(ValueError, match="exceeds"):
        framer.feed(b"99999 xxxx")
    assert framer.feed(b"x" * 40) == [b"x" * 16]
    assert framer.oversized == 2


@pytest.fixture()
def receiver(tmp_path: Path):
    sink = SyslogReceiver(tmp_path, max_records=50, idle_timeout=30)
    sink.start()
    yield sink
    sink.stop()


def test_udp_delivery_is_recorded_as_plaintext(receiver: SyslogReceiver):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(BUSYBOX_LOGIN, ("127.0.0.1", receiver.port("udp")))
    [record] = receiver.wait_for(lambda r: "invalid password" in r.message, timeout=5)
    assert record.transport == "udp" and not record.encrypted
    assert record.app == "login" and record.peer.startswith("127.0.0.1:")
    assert "invalid password" in receiver.log_path.read_text()


def test_tcp_delivery_both_framings(receiver: SyslogReceiver):
    with socket.create_connection(("127.0.0.1", receiver.port("tcp")), timeout=5) as sock:
        sock.sendall(b"%d %s" % (len(RFC5424), RFC5424))
        sock.sendall(BUSYBOX_LOGIN)
    found = receiver.wait_for(lambda r: r.transport == "tcp", timeout=5)
    deadline = time.monotonic() + 5
    while len(found) < 2 and time.monotonic() < deadline:
        found = receiver.wait_for(lambda r: r.transport == "tcp", timeout=1)
    assert [r.app for r in found] == ["dropbear", "login"]
    assert not any(r.encrypted for r in found)


def test_tls_delivery_is_recorded_as_encrypted(receiver: SyslogReceiver):
    context = ssl.create_default_context(cafile=str(receiver.certificate))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", receiver.port("tls")), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(b"%d %s" % (len(RFC5424), RFC5424))
            [record] = receiver.wait_for(lambda r: r.transport == "tls", timeout=5)
    assert record.encrypted and record.syntax == "rfc5424"
    assert record.timestamp == "2026-11-22T10:00:00.123+00:00"


def test_plaintext_on_the_tls_port_is_not_recorded(receiver: SyslogReceiver):
    with socket.create_connection(("127.0.0.1", receiver.port("tls")), timeout=5) as sock:
        sock.sendall(BUSYBOX_LOGIN)
    time.sleep(0.5)
    assert receiver.records() == []


def test_wait_for_times_out_and_records_are_bounded(receiver: SyslogReceiver):
    started = time.monotonic()
    assert receiver.wait_for(lambda r: True, timeout=0.3) == []
    assert time.monotonic() - started < 2
    for index in range(60):
        receiver.add(b"<13>app: m%d" % index, ("127.0.0.1", 1), "udp")
    assert len(receiver.records()) == 50 and receiver.dropped == 10
    assert receiver.records()[0].message == "m10"


def test_connections_beyond_the_bound_are_refused(tmp_path: Path):
    sink = SyslogReceiver(tmp_path, max_connections=1, idle_timeout=30)
    sink.start()
    try:
        first = socket.create_connection(("127.0.0.1", sink.port("tcp")), timeout=5)
        time.sleep(0.5)
        second = socket.create_connection(("127.0.0.1", sink.port("tcp")), timeout=5)
        second.settimeout(5)
        assert second.recv(1) == b""  # closed by the receiver
        first.sendall(BUSYBOX_LOGIN)
        assert sink.wait_for(lambda r: True, timeout=5)
        first.close()
        second.close()
    finally:
        sink.stop()


def test_service_points_the_device_at_tls_and_plain_ports(tmp_path: Path):
    service = SyslogService()
    service.start(tmp_path, LabEndpoints(bind_address="127.0.0.1", device_facing_address="10.0.2.2"))
    try:
        assert service.receiver is not None
        words = service.boot_arguments()
        assert words == [
            f"hilsec.syslog_tls=10.0.2.2:{service.receiver.port('tls')}",
            f"hilsec.syslog_tls_sha256={service.receiver.certificate_sha256()}",
            f"hilsec.syslog_plain=10.0.2.2:{service.receiver.port('udp')}",
        ]
    finally:
        service.stop()


def test_certificate_fingerprint_matches_openssl(tmp_path: Path):
    sink = SyslogReceiver(tmp_path)
    sink.start()
    try:
        done = subprocess.run(
            ["openssl", "x509", "-in", str(sink.certificate), "-noout", "-fingerprint", "-sha256"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert done.stdout.strip().split("=")[1].replace(":", "") == sink.certificate_sha256()
    finally:
        sink.stop()


# --- hostile records: no record stops a listener ------------------------------------------------

IMPOSSIBLE_DATE = b"<13>Feb 31 25:61:61 hilsec-ref app: impossible\n"


def test_impossible_bsd_dates_are_kept_without_a_timestamp():
    parsed = parse_syslog(IMPOSSIBLE_DATE, now=NOW)
    assert parsed.timestamp is None and "Feb 31 25:61:61" in parsed.message
    # Feb 29 of a leap year received in January of the next: the year-before guess is impossible too.
    leap = parse_syslog(b"<13>Feb 29 10:00:00 app: leap", now=datetime(2028, 1, 10, tzinfo=UTC))
    assert leap.timestamp is None and "leap" in leap.message


def _send(receiver: SyslogReceiver, transport: str, payloads: list[bytes]) -> None:
    port = receiver.port(transport)
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for payload in payloads:
                sock.sendto(payload, ("127.0.0.1", port))
        return
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        stream: socket.socket = raw
        if transport == "tls":
            context = ssl.create_default_context(cafile=str(receiver.certificate))
            context.check_hostname = False
            stream = context.wrap_socket(raw)
        for payload in payloads:
            stream.sendall(payload)
        time.sleep(0.3)
        stream.close()


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_an_impossible_date_never_stops_a_listener(receiver: SyslogReceiver, transport: str):
    _send(receiver, transport, [IMPOSSIBLE_DATE])
    _send(receiver, transport, [BUSYBOX_LOGIN])
    found = receiver.wait_for(lambda r: "invalid password" in r.message, timeout=5)
    assert found, "the record after the impossible date was lost"
    [odd] = [r for r in receiver.records() if "impossible" in r.raw]
    assert odd.timestamp is None and odd.transport == transport


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_a_parser_failure_keeps_the_record_raw_and_the_listener_alive(
    receiver: SyslogReceiver, transport: str, monkeypatch: pytest.MonkeyPatch
):
    import harness.lab.services.syslog as syslog

    real = syslog.parse_syslog

    def fragile(data: bytes, **kwargs: object):
        if b"poison" in data:
            raise ZeroDivisionError("a parser bug")
        return real(data)

    monkeypatch.setattr(syslog, "parse_syslog", fragile)
    _send(receiver, transport, [b"<13>app: poison\n", BUSYBOX_LOGIN])
    assert receiver.wait_for(lambda r: "invalid password" in r.message, timeout=5)
    [poison] = [r for r in receiver.records() if "poison" in r.raw]
    assert poison.syntax == "unparsed" and poison.message == "<13>app: poison"
    assert receiver.unparseable == 1


def test_a_failing_store_never_stops_the_udp_listener(receiver: SyslogReceiver, monkeypatch):
    calls = {"n": 0}
    real = SyslogReceiver.add

    def flaky(self, payload, peer, transport):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        return real(self, payload, peer, transport)

    monkeypatch.setattr(SyslogReceiver, "add", flaky)
    _send(receiver, "udp", [b"<13>app: first\n"])
    time.sleep(0.3)
    _send(receiver, "udp", [BUSYBOX_LOGIN])
    assert receiver.wait_for(lambda r: "invalid password" in r.message, timeout=5)
    assert receiver.errors == 1


def test_the_on_disk_log_is_bounded(receiver: SyslogReceiver, monkeypatch):
    import harness.lab.services.syslog as syslog

    monkeypatch.setattr(syslog, "MAX_LOG_BYTES", 2000)
    for index in range(40):
        receiver.add(b"<13>app: message %d" % index, ("127.0.0.1", 1), "udp")
    assert receiver.log_path.stat().st_size <= 2000
    assert receiver.log_dropped > 0 and len(receiver.records()) == 40
