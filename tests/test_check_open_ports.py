"""The FS38-05 open-port decision, both ways: declared-only passes; telnet, debug, undeclared fail."""

from __future__ import annotations

from harness.checks.open_ports import KNOWN_DEBUG_SERVICES, DeclaredService, judge_open_ports
from harness.results.verdicts import Verdict

SSH = DeclaredService("ssh", "tcp", 22)


def test_only_declared_services_pass():
    result = judge_open_ports([22], [], [SSH], tcp_answered=65535)
    assert result.verdict is Verdict.PASS
    assert "tcp/22 (ssh)" in result.reason


def test_nothing_listening_passes_and_notes_the_missing_declared_service():
    result = judge_open_ports([], [], [SSH], tcp_answered=65535)
    assert result.verdict is Verdict.PASS
    assert any("tcp/22" in note for note in result.details["notes"])


def test_undeclared_listener_fails_naming_the_port():
    result = judge_open_ports([22, 8080], [], [SSH], tcp_answered=65535)
    assert result.verdict is Verdict.FAIL
    assert "tcp/8080" in result.reason and "does not declare" in result.reason
    assert "tcp/22" not in result.reason


def test_telnet_fails_even_when_declared():
    telnet = DeclaredService("telnet", "tcp", 23)
    result = judge_open_ports([22, 23], [], [SSH, telnet], tcp_answered=65535)
    assert result.verdict is Verdict.FAIL
    assert [f["kind"] for f in result.details["open_ports"]] == ["telnet"]
    assert "tcp/23" in result.reason and "declared as 'telnet'" in result.reason


def test_every_known_debug_port_fails_even_when_declared():
    for (protocol, port), name in KNOWN_DEBUG_SERVICES.items():
        declared = [SSH, DeclaredService("debug", protocol, port)]
        tcp, udp = ([port], []) if protocol == "tcp" else ([], [port])
        result = judge_open_ports([22, *tcp], udp, declared, tcp_answered=100)
        assert result.verdict is Verdict.FAIL, (protocol, port)
        assert f"{protocol}/{port}" in result.reason and name in result.reason


def test_adb_and_gdbserver_are_named():
    result = judge_open_ports([22, 1234, 5555], [], [SSH], tcp_answered=65535)
    assert "gdbserver" in result.reason and "adb" in result.reason
    assert {f["port"] for f in result.details["open_ports"]} == {1234, 5555}


def test_undeclared_open_udp_fails_and_open_filtered_does_not_decide():
    snmp = judge_open_ports([22], [161], [SSH], tcp_answered=65535)
    assert snmp.verdict is Verdict.FAIL and "udp/161" in snmp.reason
    unclear = judge_open_ports([22], [], [SSH], tcp_answered=65535, udp_open_filtered=[161])
    assert unclear.verdict is Verdict.PASS
    assert any("161" in note for note in unclear.details["notes"])


def test_declared_udp_service_passes():
    coap = DeclaredService("coap", "udp", 5683)
    assert judge_open_ports([22], [5683], [SSH, coap], tcp_answered=10).verdict is Verdict.PASS


def test_a_scan_that_reached_nothing_is_inconclusive():
    result = judge_open_ports([], [], [SSH], tcp_answered=0, tcp_filtered=list(range(1, 100)))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "not reached" in result.reason


def test_a_plaintext_login_answering_on_a_declared_odd_port_fails_naming_what_answered() -> None:
    from harness.checks.open_ports import AnsweringService

    management = DeclaredService("management", "tcp", 8023)
    telnet = AnsweringService(
        8023, "telnet", "telnet option negotiation", True, "telnet (plaintext remote login)"
    )
    ssh = AnsweringService(22, "ssh", "banner 'SSH-2.0-dropbear'", False)
    result = judge_open_ports([22, 8023], [], [SSH, management], tcp_answered=65535, answering=[telnet, ssh])
    assert result.verdict is Verdict.FAIL
    assert "tcp/8023 open: telnet (plaintext remote login) answered" in result.reason
    assert "declared as 'management'" in result.reason and "tcp/22" not in result.reason
    assert judge_open_ports([22], [], [SSH], tcp_answered=65535, answering=[ssh]).verdict is Verdict.PASS
