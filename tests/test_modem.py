"""The AT driver against ModemSimulator on a real pty (both knob settings), and the GSM checks."""

from __future__ import annotations

import pytest
from support.modem_simulator import ModemSimulator

from harness.checks.gsm import gsm_allowed_by_declaration, gsm_allowed_by_modem, sms_declaration_findings
from harness.drivers.modem import AtCommandError, AtModem
from harness.transports.stream import open_stream


@pytest.fixture(params=[False, True], ids=["lte-only", "gsm-fallback-enabled"])
def modem(request):
    simulator = ModemSimulator(gsm_fallback_enabled=request.param).start()
    stream = open_stream(simulator.device_path)
    yield AtModem(stream, timeout=3), request.param
    stream.close()
    simulator.stop()


def test_driver_reads_answers_and_errors(modem) -> None:
    at, _ = modem
    assert at.send("AT").ok
    assert at.send("AT+CGMI").lines == ["hilsec ModemSimulator (not a modem)"]
    answer = at.send("AT+FOO")
    assert not answer.ok and answer.final.startswith("+CME ERROR")
    with pytest.raises(AtCommandError):
        at.send("AT+FOO", check=True)


def test_gsm_fallback_is_seen_both_ways(modem) -> None:
    at, fallback = modem
    allowed, detail = gsm_allowed_by_modem(at)
    assert allowed is fallback and "AT+CNMP?" in detail


def test_declarations() -> None:
    assert gsm_allowed_by_declaration(["lte-m", "nb-iot"]) is False
    assert gsm_allowed_by_declaration(["lte-m", "gsm"]) is True
    assert gsm_allowed_by_declaration(None) is None
    findings, missing = sms_declaration_findings(True, True, False)
    assert findings == [] and missing == []
    findings, missing = sms_declaration_findings(False, False, True)
    assert len(findings) == 3
    assert sms_declaration_findings(None, True, False)[1] == ["profile: cellular.class0_sms_ignored"]
