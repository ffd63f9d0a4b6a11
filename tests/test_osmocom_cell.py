"""The Osmocom test cell against the real programs: osmo-stp, osmo-hlr, osmo-mgw, osmo-msc,
osmo-bsc and osmo-bts-virtual from Debian, with the emulated module's mobile station as the phone.

Every TestCell operation is checked against what really went over the virtual radio: the
network identity the BTS broadcasts, authentication and cipher negotiation, location updating,
SMS with raw TP fields (class 0, silent type 0, port-addressed binary, WAP push, SIM OTA) as the
phone received them, delivery outcomes, the false base station (A5/0, no authentication, a new
LAC, identity requests) against a hardened and a weak phone, and the evidence files. The times
from cell start to attached and per SMS are written to build/artifacts/cell-timings.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness.cell.model import CellSecurity, MtSms, NetworkIdentity, Subscriber
from harness.cell.osmocom.cell import OsmocomCell
from harness.cell.osmocom.smpp import smpp_data_coding
from harness.emulation.module.mobile_station import MobileStation, MsPolicy, Sim
from harness.util.deadlines import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
IMSI, KI, MSISDN = "001010000000101", "0123456789abcdef0123456789abcdef", "40101"
WEAK_IMSI, WEAK_KI, WEAK_MSISDN = "001010000000102", "fedcba9876543210fedcba9876543210", "40102"
IMEI = "490154203237518"
SENDER = "+4915112340000"
ATTACH_TIMEOUT_S = 30.0
SMS_TIMEOUT_S = 30.0


def _events_until(cell: OsmocomCell, kind: str, since: float | None = None, timeout: float = 3.0):
    """The cell's events once one of `kind` is in (the radio monitor runs on its own thread)."""
    wait_until(lambda: any(e.kind == kind for e in cell.events(since)), timeout, 0.05)
    return cell.events(since)


def _radio_story(*phones: MobileStation, since: float | None = None) -> str:
    """What the phones did on the radio lately: a failed delivery says why (missed paging, cell lost)."""
    lines = []
    for phone in phones:
        recent = [e for e in phone.events if since is None or e.when >= since][-25:]
        lines += [f"{phone.name} {time.strftime('%H:%M:%S', time.localtime(e.when))}.{int(e.when * 1000) % 1000:03d} "
                  f"{e.what} {e.detail}" for e in recent]  # fmt: skip
    return "\n".join(lines)


def _station(cell: OsmocomCell, imsi: str, ki: str, policy: MsPolicy, name: str) -> MobileStation:
    station = MobileStation(
        cell.virtual_um, Sim(imsi, bytes.fromhex(ki)), imei=IMEI, policy=policy, name=name
    )
    station.start()
    station.register()
    return station


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("osmocom")
    cell = OsmocomCell(work / "cell", work / "cache")
    started = time.monotonic()
    cell.start()
    cell.add_subscriber(Subscriber(IMSI, KI, MSISDN))
    phone = _station(cell, IMSI, KI, MsPolicy(), "hardened-phone")
    timings: dict[str, object] = {"cell_start_s": round(cell.start_seconds or 0, 2)}
    yield cell, phone, timings, started
    phone.stop()
    cell.stop()
    artifacts = ROOT / "build" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "cell-timings.json").write_text(json.dumps(timings, indent=2))


def test_the_network_comes_up_and_broadcasts_its_identity(network) -> None:
    cell, phone, timings, _ = network
    assert cell.start_seconds is not None and cell.start_seconds < 30
    assert set(cell._programs) == {"osmo-stp", "osmo-hlr", "osmo-mgw", "osmo-msc", "osmo-bsc", "osmo-bts"}
    assert all(p.process.poll() is None for p in cell._programs.values())
    wait_until(lambda: phone.cell is not None, 10, 0.1)
    assert phone.cell is not None, "no System Information 3 on the virtual radio"
    assert (phone.cell.mcc_mnc, phone.cell.lac, phone.cell.arfcn) == ("00101", 1, 871)


def test_the_phone_attaches_with_authentication_and_ciphering(network) -> None:
    cell, phone, timings, started = network
    attachment = cell.wait_attached(IMSI, ATTACH_TIMEOUT_S)
    assert attachment.attached, attachment.detail
    timings["start_to_attached_s"] = round(time.monotonic() - started, 2)
    kinds = [(e.direction, e.kind, e.detail) for e in _events_until(cell, "tmsi-reallocation-complete")]
    assert ("uplink", "location-updating-request", "normal") in kinds
    assert ("downlink", "authentication-request", "CKSN 0") in [
        k for k in kinds if k[1] == "authentication-request"
    ][:1]
    ciphers = [detail for _, kind, detail in kinds if kind == "ciphering-mode-command"]
    assert ciphers and ciphers[0].startswith(("A5/1", "A5/3")), ciphers
    assert ("downlink", "location-updating-accept", "") in kinds
    assert any(kind == "tmsi-reallocation-complete" for _, kind, _ in kinds)
    identity = next(e.identity for e in cell.events() if e.kind == "location-updating-request")
    assert identity == f"IMSI {IMSI}"  # the first attach: no TMSI yet
    assert cell.subscriber_state(IMSI).get("TMSI") == (phone.sim.tmsi or "").upper()


SMS_CASES = [
    MtSms(SENDER, b"SET SERVER hilsec.invalid:1", 0x00, label="plain text"),
    MtSms(SENDER, b"class zero", 0xF4, label="class 0 (flash), 8-bit"),
    MtSms(SENDER, b"ping", 0x00, pid=0x40, label="silent type 0"),
    MtSms(SENDER, bytes(range(16)), 0x04, udh=bytes.fromhex("06050413881388"), label="binary, port 5000"),
    MtSms(
        SENDER,
        bytes.fromhex("0106246170706c69636174696f6e2f766e642e7761702e736963"),
        0xF5,
        udh=bytes.fromhex("0605040b8423f0"),
        label="WAP push SI",
    ),  # fmt: skip
    MtSms(
        SENDER,
        bytes.fromhex("0015160000000000000000000000000000000000"),
        0xF6,
        pid=0x7F,
        udh=bytes.fromhex("027000"),
        label="SIM OTA (secured packet header)",
    ),  # fmt: skip
]


@pytest.mark.parametrize("sms", SMS_CASES, ids=[c.label for c in SMS_CASES])
def test_sms_with_raw_tp_fields_arrive_intact(network, sms: MtSms) -> None:
    cell, phone, timings, _ = network
    assert cell.wait_attached(IMSI, ATTACH_TIMEOUT_S).attached
    before = len(phone.received_sms)
    sent = time.time()
    delivery = cell.send_sms(IMSI, sms, SMS_TIMEOUT_S)
    assert delivery.delivered, f"{delivery}\n{_radio_story(phone, since=sent - 30)}"
    timings.setdefault("sms_delivery_s", {})[sms.label] = round(delivery.seconds, 2)
    wait_until(lambda: len(phone.received_sms) != before, 5, 0.05)
    received = phone.received_sms[-1].tpdu
    assert received.originator == SENDER.lstrip("+")
    assert received.pid == sms.pid
    expected_dcs = smpp_data_coding(sms.dcs)  # what osmo-msc can carry (8-bit without class: 0xF5)
    assert received.dcs in (sms.dcs, expected_dcs), f"DCS 0x{received.dcs:02x}"
    assert received.udh == sms.udh
    if received.alphabet == "gsm7":
        assert received.text == sms.user_data.decode()
    else:
        assert received.user_data == sms.user_data
    if sms.dcs == 0xF4:
        assert received.message_class == 0


def test_sms_to_a_subscriber_who_is_not_attached_is_not_delivered(network) -> None:
    cell, _, _, _ = network
    cell.add_subscriber(Subscriber("001010000000199", KI, "40199"))
    delivery = cell.send_sms("001010000000199", MtSms(SENDER, b"nobody home"), SMS_TIMEOUT_S)
    assert not delivery.delivered and delivery.outcome == "failed", delivery


def test_a_downgrade_cell_is_refused_by_the_hardened_phone_and_taken_by_the_weak_one(network) -> None:
    cell, phone, timings, _ = network
    cell.add_subscriber(Subscriber(WEAK_IMSI, WEAK_KI, WEAK_MSISDN))
    weak = _station(
        cell, WEAK_IMSI, WEAK_KI, MsPolicy(accept_unciphered=True, imsi_before_authentication=True), "weak"
    )
    try:
        assert cell.wait_attached(WEAK_IMSI, ATTACH_TIMEOUT_S).attached
        since = time.time()
        cell.configure(
            network=NetworkIdentity(lac=2), security=CellSecurity(ciphers=(0,), authentication=False)
        )
        assert cell.network.lac == 2 and not cell.security.ciphering
        taken = cell.wait_attached(WEAK_IMSI, ATTACH_TIMEOUT_S)
        assert taken.attached, f"{taken.detail}\n{_radio_story(weak, phone, since=since)}"
        probe = MtSms(SENDER, b"?", 0x00, pid=0x40, label="probe")
        delivery = cell.send_sms(WEAK_IMSI, probe, SMS_TIMEOUT_S)
        assert delivery.delivered, f"{delivery}\n{_radio_story(weak, phone, since=since)}"
        refused = cell.send_sms(IMSI, probe, SMS_TIMEOUT_S)
        assert not refused.delivered, refused
        assert phone.status == "denied" and ("00101", 2) in phone.barred
        downgrade = cell.events(since)
        assert not [e for e in downgrade if e.kind == "ciphering-mode-command"]
        assert not [e for e in downgrade if e.kind == "authentication-request"]
        assert [
            e for e in downgrade if e.kind == "location-updating-request" and e.identity.startswith("TMSI")
        ]

        since = time.time()
        cell.configure(network=NetworkIdentity(lac=3), security=CellSecurity.false_base_station())
        assert cell.wait_attached(WEAK_IMSI, ATTACH_TIMEOUT_S).attached
        catcher = _events_until(cell, "location-updating-accept", since)
        asked = [e.detail for e in catcher if e.kind == "identity-request"]
        assert "IMSI" in asked and "IMEISV" in asked, asked
        answered = [e.identity for e in catcher if e.kind == "identity-response"]
        assert f"IMSI {WEAK_IMSI}" in answered  # the weak phone gave its IMSI away
        assert f"IMSI {IMSI}" not in answered  # the hardened one did not
    finally:
        weak.stop()
        cell.configure(network=NetworkIdentity(), security=CellSecurity())


def test_the_hardened_phone_comes_back_to_the_genuine_cell(network) -> None:
    cell, phone, _, _ = network
    since = time.time()
    attachment = cell.wait_attached(IMSI, ATTACH_TIMEOUT_S)
    assert attachment.attached, f"{attachment.detail}\n{_radio_story(phone, since=since - 60)}"
    sent = time.time()
    delivery = cell.send_sms(IMSI, MtSms(SENDER, b"welcome back"), SMS_TIMEOUT_S)
    assert delivery.delivered, f"{delivery}\n{_radio_story(phone, since=sent - 60)}"


def test_evidence_has_logs_configs_and_a_radio_capture(network, tmp_path: Path) -> None:
    cell, _, _, _ = network
    files = {p.name: p for p in cell.evidence(tmp_path)}
    for name in ("cell-osmo-msc.log", "cell-osmo-bsc.log", "cell-osmo-msc.cfg", "cell-radio-gsmtap.pcap"):
        assert name in files, sorted(files)
    assert cell.smpp_password not in files["cell-osmo-msc.cfg"].read_text()
    if shutil.which("tshark"):
        decoded = subprocess.run(
            ["tshark", "-r", str(files["cell-radio-gsmtap.pcap"]), "-Y", "gsm_a.dtap.msg_mm_type == 0x08"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "Location Updating Request" in decoded.stdout, decoded.stderr[-500:]
