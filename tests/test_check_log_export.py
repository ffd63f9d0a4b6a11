"""FS38-07 decision logic, both ways: exported securely passes; missing, untimed or plaintext fails."""

from __future__ import annotations

from harness.checks.log_export import SecurityEvent, judge_log_export
from harness.lab.services.syslog import parse_syslog
from harness.observations.syslog import SyslogRecord
from harness.results.verdicts import Verdict

T0 = 1_800_000_000.0
CONSOLE = SecurityEvent("failed console login for 'root'", T0, ("root",), excludes=("10.0.2.2",))
SSH = SecurityEvent("failed SSH login for 'root' from 10.0.2.2", T0 + 10, ("root", "10.0.2.2"))


def record(raw: bytes, transport: str = "tls", received: float = T0 + 1, peer: str = "10.0.2.15:5000"):
    parsed = parse_syslog(raw)
    return SyslogRecord(
        received=received,
        peer=peer,
        transport=transport,
        encrypted=transport == "tls",
        raw=raw.decode(),
        syntax=parsed.syntax,
        facility=parsed.facility,
        severity=parsed.severity,
        timestamp=parsed.timestamp,
        host=parsed.host,
        app=parsed.app,
        procid=parsed.procid,
        message=parsed.message,
    )


CONSOLE_TLS = record(
    b"<36>1 2026-11-22T10:00:00+00:00 ref login 128 - - invalid password for 'root' on 'ttyS0'"
)
SSH_TLS = record(
    b"<84>1 2026-11-22T10:00:11+00:00 ref dropbear 153 - - Bad password attempt for 'root' from 10.0.2.2:43144",
    received=T0 + 11,
)


def test_every_event_exported_over_tls_passes():
    result = judge_log_export([CONSOLE, SSH], [CONSOLE_TLS, SSH_TLS])
    assert result.findings == () and result.verdict is Verdict.PASS
    assert result.details["exported_securely"] == [CONSOLE.name, SSH.name]
    assert result.details["encrypted_records"] == 2 and result.details["plaintext_records"] == 0


def test_not_applicable_events_are_listed_not_failed():
    result = judge_log_export([CONSOLE], [CONSOLE_TLS], not_applicable={"rejected update": "no update agent"})
    assert result.findings == () and result.details["not_applicable"] == ["rejected update: no update agent"]


def test_each_missing_event_is_named():
    result = judge_log_export([CONSOLE, SSH], [], wait_s=20)
    assert len(result.findings) == 2 and result.verdict is Verdict.FAIL
    assert result.reason == "; ".join(result.findings)
    assert result.findings[0].startswith("failed console login for 'root' was not exported")
    assert "'root', '10.0.2.2'" in result.findings[1] and "within 20 s" in result.findings[1]


def test_record_before_the_event_or_of_another_event_does_not_count():
    early = record(
        b"<36>1 2026-11-22T10:00:00+00:00 ref login 1 - - invalid password for 'root'", received=T0 - 60
    )
    result = judge_log_export([CONSOLE, SSH], [early, SSH_TLS])
    assert [f.split(" was ")[0] for f in result.findings] == [CONSOLE.name]


def test_unrelated_record_naming_the_user_is_not_the_event():
    success = record(b"<38>1 2026-11-22T10:00:00+00:00 ref login 1 - - root login on 'ttyS0'")
    assert not CONSOLE.matches(success)


def test_plaintext_export_fails_securely_and_names_transport_and_sender():
    udp = record(
        b"<36>Nov 22 10:00:00 login[128]: invalid password for 'root' on 'ttyS0'\n",
        "udp",
        peer="10.0.2.15:514",
    )
    result = judge_log_export([CONSOLE], [udp])
    assert len(result.findings) == 1
    assert "plaintext (not securely): 1 record(s) over UDP from 10.0.2.15" in result.findings[0]
    assert "invalid password for 'root'" in result.findings[0]


def test_any_plaintext_record_fails_even_when_events_also_went_over_tls():
    noise = record(b"<13>Nov 22 10:00:05 telemetry: seq=3", "tcp")
    result = judge_log_export([CONSOLE, SSH], [CONSOLE_TLS, SSH_TLS, noise])
    assert len(result.findings) == 1 and "over TCP" in result.findings[0]


def test_event_without_timestamp_fails():
    untimed = record(b"<36>login[128]: invalid password for 'root' on 'ttyS0'")
    result = judge_log_export([CONSOLE], [untimed])
    assert result.findings == (
        f"{CONSOLE.name} was exported without a timestamp: [tls no timestamp - login] "
        "invalid password for 'root' on 'ttyS0'",
    )


def test_update_rejection_matched_by_failure_words():
    update = SecurityEvent(
        "rejected update",
        T0,
        identifiers=(),
        failure_words=r"(update).*(reject|fail)|(reject|fail).*(update)",
    )
    checking = record(b"<13>1 2026-11-22T10:00:00Z ref hilsec-update - - - checking update x.swu (45 bytes)")
    rejected = record(b"<11>1 2026-11-22T10:00:00Z ref hilsec-update - - - rejected update x.swu: damaged")
    assert not update.matches(checking) and update.matches(rejected)
    assert judge_log_export([update], [checking]).findings[0].startswith("rejected update was not exported")
