"""The Amarisoft backend against recorded remote-API exchanges, over a real local WebSocket (the
stand-in server in tests/support/amarisoft_standin.py; no Callbox here): every TestCell
operation, the password challenge, error responses, and hostile answers (oversized, not JSON,
none at all) that must end in a bounded time with a reason, never a hang."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from types import SimpleNamespace

import pytest
from support.amarisoft_standin import READY_IMS, READY_MME, AmarisoftRemoteApiStandIn

from harness.cell import amarisoft
from harness.cell.amarisoft import AmarisoftCell, CellUnsupported, WebSocketChannel
from harness.cell.model import CellSecurity, MtSms, NetworkIdentity, Subscriber
from harness.errors import HarnessSetupError

IMSI = "001010123456789"
UE = {"imsi": IMSI, "imeisv": "3534900698733190", "m_tmsi": "0x12345678", "tac": 7, "registered": True,
      "rat_type": "LTE", "bearers": []}  # fmt: skip
MME_ANSWERS = {
    "register": {},
    "ue_get": [{"ue_list": []}, {"ue_list": [UE]}],
    "ue_add": {},
    "config_set": {},
    "log_get": {
        "logs": [{"data": ["NAS: Attach request", "\x1b[31mred\x1b[0m"], "layer": "NAS", "level": "info"}]
    },
}
USER = {"impi": f"{IMSI}@ims.mnc001.mcc001.3gppnetwork.org", "bindings": [{"impu": [IMSI, "tel:0600000000"]}]}


def _settings(mme: AmarisoftRemoteApiStandIn, ims: AmarisoftRemoteApiStandIn | None = None):
    return SimpleNamespace(url=mme.url, ims_url=ims.url if ims else None, password=None, timeout_s=3.0)


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch) -> None:
    monkeypatch.setattr(amarisoft, "POLL_S", 0.05)


@pytest.fixture
def standins():
    made: list[AmarisoftRemoteApiStandIn] = []

    def make(*args, **kwargs) -> AmarisoftRemoteApiStandIn:
        made.append(AmarisoftRemoteApiStandIn(*args, **kwargs))
        return made[-1]

    yield make
    for standin in made:
        standin.close()


def test_start_registers_for_events_and_wait_attached_polls_ue_get(standins) -> None:
    event = {"message": "registration", "imsi": IMSI, "m_tmsi": "0x12345678", "registered": True}
    mme = standins(READY_MME, MME_ANSWERS, events={"ue_get": [event]})
    cell = AmarisoftCell(_settings(mme))
    cell.start()
    assert mme.origins == ["http://hilsec"]  # the manual: an Origin header is mandatory
    assert mme.requests("register")[0]["register"] == ["registration", "registration_reject"]
    attached = cell.wait_attached(IMSI, 5)
    assert attached.attached and "TAC 7" in attached.detail
    assert len(mme.requests("ue_get")) == 2 and mme.requests("ue_get")[0]["imsi"] == IMSI
    kinds = [(e.kind, e.identity) for e in cell.events()]
    assert ("registered", f"IMSI {IMSI}") in kinds and cell.identity()["cell_software"] == "2025-12-12"
    cell.stop()


def test_wait_attached_gives_up_at_its_timeout(standins) -> None:
    mme = standins(READY_MME, {**MME_ANSWERS, "ue_get": {"ue_list": [{**UE, "registered": False}]}})
    cell = AmarisoftCell(_settings(mme))
    cell.start()
    started = time.monotonic()
    attached = cell.wait_attached(IMSI, 0.5)
    assert not attached.attached and time.monotonic() - started < 3


def test_subscribers_are_added_to_the_ue_db_when_the_mme_knows_their_algorithm(standins) -> None:
    mme = standins(READY_MME, MME_ANSWERS)
    cell = AmarisoftCell(_settings(mme))
    cell.start()
    cell.add_subscriber(Subscriber(IMSI, "00112233445566778899aabbccddeeff", algorithm="xor"))
    (entry,) = mme.requests("ue_add")[0]["ue_db"]
    assert (entry["sim_algo"], entry["imsi"], entry["K"]) == ("xor", IMSI, "00112233445566778899aabbccddeeff")
    cell.add_subscriber(Subscriber("001010000000002", "00" * 16))  # COMP128: not in the MME's algorithms
    assert len(mme.requests("ue_add")) == 1
    assert any(e.kind == "subscriber expected" for e in cell.events())


def test_false_base_station_settings_go_through_config_set(standins) -> None:
    mme = standins(READY_MME, MME_ANSWERS)
    cell = AmarisoftCell(_settings(mme))
    cell.start()
    cell.configure(security=CellSecurity(ciphers=(0,), authentication=False, identity_requests=("imsi",)))
    request = mme.requests("config_set")[0]
    assert (request["authentication_mode"], request["skip_smc_proc"], request["force_identity_request"]) == (
        "skip", True, True)  # fmt: skip
    assert cell.security.ciphers == (0,)
    with pytest.raises(CellUnsupported, match="IMEI"):
        cell.configure(security=CellSecurity.false_base_station())
    with pytest.raises(CellUnsupported, match="identity"):
        cell.configure(network=NetworkIdentity(lac=9))
    with pytest.raises(CellUnsupported, match="ciphers"):
        AmarisoftCell(_settings(mme)).configure(security=CellSecurity(ciphers=(3,)))


def test_sms_with_raw_fields_through_the_ims_until_no_longer_pending(standins) -> None:
    mme = standins(READY_MME, MME_ANSWERS)
    ims = standins(
        READY_IMS,
        {"sms": {}, "users_get": [{"users": [{**USER, "sms": 1}]}, {"users": [{**USER, "sms": 0}]}]},
    )
    cell = AmarisoftCell(_settings(mme, ims))
    cell.start()
    ota = MtSms("+4915112345", b"\x01\x02", 0xF6, pid=0x7F, udh=bytes.fromhex("027000"), label="SIM OTA")
    delivery = cell.send_sms(IMSI, ota, 5)
    assert delivery.delivered, delivery
    request = ims.requests("sms")[0]
    assert (request["impu"], request["sender"], request["pid"], request["dcs"]) == (
        IMSI,
        "+4915112345",
        0x7F,
        0xF6,
    )
    assert (request["binary_hex"], request["tp_udhi_present"]) == ("0270000102", True)
    cell.send_sms(IMSI, MtSms("+1", b"hello", 0x00), 5)
    assert ims.requests("sms")[1]["text"] == "hello" and "binary_hex" not in ims.requests("sms")[1]
    cell.send_sms(IMSI, MtSms("+1", b"hi", 0x00, udh=bytes.fromhex("050003010201")), 5)
    seven_bit = ims.requests("sms")[2]  # 6 header octets = 7 septets (no fill bits), then "hi" packed
    assert seven_bit["tp_udl"] == 9 and seven_bit["binary_hex"].startswith("050003010201")


def test_sms_error_and_timeout_and_no_ims(standins) -> None:
    mme = standins(READY_MME, MME_ANSWERS)
    ims = standins(
        READY_IMS, {"sms": [{"error": "Unknown user"}, {}], "users_get": {"users": [{**USER, "sms": 1}]}}
    )
    cell = AmarisoftCell(_settings(mme, ims))
    cell.start()
    failed = cell.send_sms(IMSI, MtSms("+1", b"x"), 5)
    assert failed.outcome == "failed" and "Unknown user" in failed.detail
    pending = cell.send_sms(IMSI, MtSms("+1", b"x"), 0.5)
    assert pending.outcome == "timeout"
    without_ims = AmarisoftCell(_settings(mme))
    without_ims.start()
    with pytest.raises(CellUnsupported, match="ims_url"):
        without_ims.send_sms(IMSI, MtSms("+1", b"x"), 1)


def test_evidence_has_the_mme_log_and_the_transcript_escaped(standins, tmp_path) -> None:
    mme = standins(READY_MME, MME_ANSWERS)
    cell = AmarisoftCell(_settings(mme))
    cell.start()
    files = cell.evidence(tmp_path)
    log = (tmp_path / "cell-amarisoft-mme.log").read_text()
    assert "Attach request" in log and "\x1b" not in log
    assert json.loads((tmp_path / "cell-amarisoft-api.json").read_text())["mme"]
    assert len(files) == 2 and mme.requests("log_get")[0]["allow_empty"] is True


def test_the_password_challenge_is_answered_and_never_recorded(standins) -> None:
    greeting = {"message": "authenticate", "type": "MME", "name": "MME", "challenge": "c4a1"}
    mme = standins(greeting, {**MME_ANSWERS, "authenticate": {"ready": True}})
    cell = AmarisoftCell(SimpleNamespace(url=mme.url, ims_url=None, password="secret", timeout_s=3.0))
    cell.start()
    expected = hmac.new(b"MME:secret:MME", b"c4a1", hashlib.sha256).hexdigest()
    assert mme.requests("authenticate")[0]["res"] == expected
    assert expected not in json.dumps(list(cell.mme.transcript))
    refused = standins(greeting, {"authenticate": {"error": "Bad password", "challenge": "d00d"}})
    with pytest.raises(HarnessSetupError, match="refused the password"):
        AmarisoftCell(SimpleNamespace(url=refused.url, ims_url=None, password="wrong", timeout_s=3.0)).start()
    with pytest.raises(HarnessSetupError, match="password"):
        AmarisoftCell(SimpleNamespace(url=refused.url, ims_url=None, password=None, timeout_s=3.0)).start()


@pytest.mark.parametrize(("mode", "reason"), [("oversized", "1009|too big|limit"), ("junk", "not JSON"),
                                              ("silent", "no answer|nothing within")])  # fmt: skip
def test_hostile_answers_end_in_bounded_time_with_a_reason(standins, mode, reason) -> None:
    mme = standins(READY_MME, MME_ANSWERS, mode=mode)
    started = time.monotonic()
    with pytest.raises(HarnessSetupError, match=reason):
        AmarisoftCell(SimpleNamespace(url=mme.url, ims_url=None, password=None, timeout_s=1.0)).start()
    assert time.monotonic() - started < 5


def test_an_error_response_is_a_reason(standins) -> None:
    mme = standins(READY_MME, {"register": {"error": "Authentication not done"}})
    with pytest.raises(HarnessSetupError, match="refused register: Authentication not done"):
        AmarisoftCell(_settings(mme)).start()


def test_an_unreachable_endpoint_is_a_reason_within_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(HarnessSetupError, match="not reachable"):
        WebSocketChannel("ws://127.0.0.1:9/", timeout=2)
    with pytest.raises(HarnessSetupError, match="not reachable"):
        WebSocketChannel("ws://192.0.2.1:9000/", timeout=0.5)  # TEST-NET: nothing answers, nothing refuses
    assert time.monotonic() - started < 5


def test_a_missing_websockets_library_is_a_reason(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "websockets.sync.client", None)
    with pytest.raises(HarnessSetupError, match="cell-amarisoft"):
        WebSocketChannel("ws://127.0.0.1:9/")
