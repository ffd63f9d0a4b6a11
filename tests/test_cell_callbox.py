"""The SCPI callbox backend against an R&S CMW's recorded answers, through a real TCP stand-in
(tests/support/scpi_standin.py; no instrument here), both over a raw SCPI socket and over VISA
(pyvisa-py, TCPIP::...::SOCKET): every TestCell operation, the instrument's error queue, and
hostile answers (oversized, none at all) that must end in bounded time with a reason."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pytest
from support.scpi_standin import CMW_IDN, ScpiCallboxStandIn

from harness.cell import callbox
from harness.cell.amarisoft import CellUnsupported
from harness.cell.callbox import ScpiCallbox, SocketScpi, VisaScpi
from harness.cell.model import CellSecurity, MtSms, NetworkIdentity, Subscriber
from harness.errors import HarnessSetupError

IMSI = "001010123456789"
RECORDED = {
    "*IDN?": CMW_IDN,
    "SOURce:GSM:SIGN:CELL:STATe:ALL?": ["OFF,PEND", "ON,ADJ"],
    "FETCh:GSM:SIGN:CSWitched:STATe?": ["ON", "LUPD", "SYNC"],
    "SENSe:GSM:SIGN:MSSinfo:IMSI?": f'"{IMSI}"',
    "SENSe:GSM:SIGN:SMS:OUTGoing:INFO:LMSent?": ["NAV", "SUCC"],
}


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch) -> None:
    monkeypatch.setattr(callbox, "POLL_S", 0.02)


@pytest.fixture
def standins():
    made: list[ScpiCallboxStandIn] = []

    def make(*args, **kwargs) -> ScpiCallboxStandIn:
        made.append(ScpiCallboxStandIn(*args, **kwargs))
        return made[-1]

    yield make
    for standin in made:
        standin.close()


def _settings(address: str, **extra) -> SimpleNamespace:
    return SimpleNamespace(address=address, vendor="rs-cmw", timeout_s=2.0, cell_on_timeout_s=5.0, **extra)


@pytest.mark.parametrize("path", ["socket", "visa"])
def test_start_attach_and_sms_with_raw_fields(standins, path, tmp_path) -> None:
    instrument = standins(RECORDED)
    address = instrument.address if path == "socket" else instrument.visa_resource
    cell = ScpiCallbox(_settings(address), network=NetworkIdentity(mcc="262", mnc="001", lac=7))
    cell.start()
    assert "CMW" in cell.identity()["cell_instrument"]
    for command in ("CONFigure:GSM:SIGN:CELL:MCC 262", "CONFigure:GSM:SIGN:CELL:MNC:DIGits THRee",
                    "CONFigure:GSM:SIGN:CELL:LAC 7", "CONFigure:GSM:SIGN:CELL:SECurity:AUTHenticat ON",
                    "SOURce:GSM:SIGN:CELL:STATe ON"):  # fmt: skip
        assert command in instrument.lines, command
    attached = cell.wait_attached(IMSI, 5)
    assert attached.attached and "SYNC" in attached.detail
    assert [e.kind for e in cell.events()].count("location update") == 1
    sms = MtSms(
        "+4915112345", b"\x01\x02", 0xF4, pid=0x40, udh=bytes.fromhex("0605040b8423f0"), label="class 0"
    )
    delivery = cell.send_sms(IMSI, sms, 5)
    assert delivery.delivered and "SUCC" in delivery.detail
    for command in ('CONFigure:GSM:SIGN:SMS:OUTGoing:OADDress "+4915112345"',
                    "CONFigure:GSM:SIGN:SMS:OUTGoing:CGRoup DCMClass", "CONFigure:GSM:SIGN:SMS:OUTGoing:MCLass CL0",
                    "CONFigure:GSM:SIGN:SMS:OUTGoing:PIDentifier #H40", "CONFigure:GSM:SIGN:SMS:OUTGoing:DCODing BIT8",
                    "CONFigure:GSM:SIGN:SMS:OUTGoing:UDHeader #H05040B8423F0",
                    "CONFigure:GSM:SIGN:SMS:OUTGoing:BINary #H0102", "CALL:GSM:SIGN:CSWitched:ACTion SMS"):  # fmt: skip
        assert command in instrument.lines, command
    cell.send_sms(IMSI, MtSms("+1", b"hello"), 5)
    assert 'CONFigure:GSM:SIGN:SMS:OUTGoing:INTernal "hello"' in instrument.lines
    assert "CONFigure:GSM:SIGN:SMS:OUTGoing:MCLass NONE" in instrument.lines
    assert cell.evidence(tmp_path)[0].read_text().count("> ") > 20
    cell.stop()


def test_wait_attached_needs_the_device_imsi_and_gives_up_at_its_timeout(standins) -> None:
    instrument = standins({**RECORDED, "SENSe:GSM:SIGN:MSSinfo:IMSI?": '"001019999999999"'})
    cell = ScpiCallbox(_settings(instrument.address))
    cell.start()
    started = time.monotonic()
    attached = cell.wait_attached(IMSI, 0.3)
    assert not attached.attached and time.monotonic() - started < 3
    assert any("001019999999999" in e.detail for e in cell.events())


def test_sms_failure_and_timeout(standins) -> None:
    instrument = standins({**RECORDED, "SENSe:GSM:SIGN:SMS:OUTGoing:INFO:LMSent?": ["FAIL", "NAV"]})
    cell = ScpiCallbox(_settings(instrument.address))
    cell.start()
    assert cell.send_sms(IMSI, MtSms("+1", b"x"), 5).outcome == "failed"
    assert cell.send_sms(IMSI, MtSms("+1", b"x"), 0.2).outcome == "timeout"


def test_security_changes_it_can_make_and_those_it_cannot(standins) -> None:
    instrument = standins(RECORDED)
    cell = ScpiCallbox(_settings(instrument.address))
    cell.start()
    with pytest.raises(CellUnsupported, match="A5"):
        cell.configure(security=CellSecurity.false_base_station())
    with pytest.raises(CellUnsupported, match="IMSI"):
        cell.configure(security=CellSecurity(identity_requests=("imsi",)))
    cell.configure(security=CellSecurity(authentication=False, identity_requests=("imei",)))
    assert "CONFigure:GSM:SIGN:CELL:SECurity:AUTHenticat OFF" in instrument.lines
    assert "CONFigure:GSM:SIGN:CELL:IMEirequest ON" in instrument.lines
    cell.add_subscriber(Subscriber(IMSI, "00" * 16))
    assert any(e.kind == "subscriber expected" for e in cell.events())


def test_an_error_in_the_instrument_queue_is_a_reason(standins) -> None:
    instrument = standins(RECORDED, errors={"CONFigure:GSM:SIGN:CELL:LAC 1": '-222,"Data out of range"'})
    with pytest.raises(HarnessSetupError, match="Data out of range"):
        ScpiCallbox(_settings(instrument.address)).start()


def test_a_keysight_is_refused_with_the_reason(standins) -> None:
    instrument = standins({"*IDN?": "Keysight Technologies,E7515B,MY1234,1.0"})
    with pytest.raises(CellUnsupported, match="Keysight UXM GSM command set"):
        ScpiCallbox(SimpleNamespace(address=instrument.address, vendor="keysight-uxm", timeout_s=2.0)).start()


@pytest.mark.parametrize("path", ["socket", "visa"])
@pytest.mark.parametrize(("mode", "reason"), [("oversized", "exceeds"), ("silent", "no answer")])
def test_hostile_answers_end_in_bounded_time_with_a_reason(standins, path, mode, reason) -> None:
    instrument = standins(RECORDED, mode=mode)
    address = instrument.address if path == "socket" else instrument.visa_resource
    started = time.monotonic()
    with pytest.raises(HarnessSetupError, match=reason):
        ScpiCallbox(SimpleNamespace(address=address, vendor="rs-cmw", timeout_s=1.0)).start()
    assert time.monotonic() - started < 5


def test_an_unreachable_instrument_is_a_reason_within_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(HarnessSetupError, match="not reachable"):
        SocketScpi("127.0.0.1:9", timeout=1)
    with pytest.raises(HarnessSetupError, match="not reachable"):
        SocketScpi("192.0.2.1:5025", timeout=0.5)  # TEST-NET: nothing answers, nothing refuses
    with pytest.raises(HarnessSetupError, match="refused|not reachable"):  # pyvisa-py connects at first use
        ScpiCallbox(_settings("TCPIP::127.0.0.1::9::SOCKET")).start()
    assert time.monotonic() - started < 6


def test_a_missing_pyvisa_is_a_reason(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvisa", None)
    with pytest.raises(HarnessSetupError, match="cell-callbox"):
        VisaScpi("TCPIP::127.0.0.1::5025::SOCKET")
