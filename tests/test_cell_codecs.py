"""GSMTAP, LAPDm and layer-3 codecs on octets recorded from the real Osmocom cell, the SMPP
data-coding map, the Osmocom configs, and the radio monitor's bounds on hostile frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cell import gsmtap, l3, lapdm
from harness.cell.model import CellSecurity, MtSms, NetworkIdentity, Subscriber
from harness.cell.osmocom import configs
from harness.cell.osmocom.smpp import smpp_data_coding
from harness.cell.radio_monitor import PcapWriter, RadioMonitor
from harness.cell.virtual_um import VirtualUm

# Recorded from osmo-bts-virtual 1.5 / osmo-bsc 1.9.
SI3 = bytes.fromhex("49061b000100f1100001c90305274740e50400292b2b2b")
IMMEDIATE_ASSIGNMENT = bytes.fromhex("2d063f0320e36705b05300002b2b2b2b2b2b2b2b2b2b2b")


def test_gsmtap_round_trip_and_rejects() -> None:
    frame = gsmtap.GsmtapFrame(871, True, 0, gsmtap.SDCCH4, False, 2, 123456, 63, b"\x01" * 23)
    assert gsmtap.parse(frame.to_bytes()) == frame
    assert gsmtap.parse(b"\x02\x04") is None
    assert gsmtap.parse(b"\x02\xff" + bytes(20)) is None  # header longer than the datagram
    assert gsmtap.request_reference(72065) == (22, 2, 19)


def test_lapdm_round_trip_and_segments() -> None:
    frame = lapdm.Frame(3, 1, "I", False, ns=2, nr=5, more=True, info=b"abc")
    block = lapdm.build(frame)
    assert len(block) == lapdm.FRAME_SDCCH and block.endswith(b"\x2b")
    assert lapdm.parse(block) == frame
    assert (
        lapdm.parse(lapdm.build(lapdm.Frame(0, 0, "U", True, command=lapdm.SABM, info=b"x"))).name == "SABM"
    )
    assert lapdm.parse(b"\x00\x00") is None and lapdm.parse(b"\x01\x03\x41") is None  # EA / length beyond
    parts = lapdm.segments(bytes(45))
    assert [len(p) for p, _ in parts] == [20, 20, 5] and [m for _, m in parts] == [True, True, False]
    with pytest.raises(ValueError):
        lapdm.build(lapdm.Frame(0, 0, "I", info=bytes(21)))


def test_recorded_downlink_decodes() -> None:
    si3 = l3.decode(SI3, uplink=False, pseudo_length=True)
    assert si3.name == "SYSTEM INFORMATION TYPE 3" and l3.location_area(si3) == ("00101", 1)
    assignment = l3.decode(IMMEDIATE_ASSIGNMENT, uplink=False, pseudo_length=True)
    assert assignment.name == "IMMEDIATE ASSIGNMENT"
    assert (
        assignment.field("RA"),
        assignment.field("T1prime"),
        assignment.field("T3"),
        assignment.field("T2"),
    ) == (5, 22, 2, 19)
    assert (
        l3.decode(b"\x06", uplink=False) is None and l3.decode(b"\x06\xfe" + bytes(5), uplink=False) is None
    )


def test_uplink_encoders_carry_the_identity() -> None:
    request = l3.location_updating_request(sequence=1, cksn=7, update_type=0, mcc_mnc="00101", lac=1,
                                           classmark1=0x50, kind=l3.IMSI, value="001010123456789")  # fmt: skip
    assert request.hex() == "05487000f110000150080910101032547698"
    decoded = l3.decode(request, uplink=True)
    assert decoded.name == "LOCATION UPDATING REQUEST" and l3.message_identity(decoded) == (
        "IMSI",
        "001010123456789",
    )
    paging = l3.decode(
        l3.paging_response(cksn=0, classmark2=b"\x50\x18\x02", kind=l3.TMSI, value="12345678"), uplink=True
    )
    assert l3.message_identity(paging) == ("TMSI", "12345678")
    complete = l3.decode(l3.ciphering_mode_complete("4901542032375101"), uplink=True)
    assert l3.message_identity(complete) == ("IMEISV", "4901542032375101")
    assert l3.cp_ack(3) == bytes([0xB9, 0x04]) and l3.rp_ack(7) == b"\x02\x07"


def test_rp_data_and_sms_deliver() -> None:
    tpdu = bytes.fromhex("40099194711032f47ff60000000000000006027000010203")
    rp = bytes([0x01, 9, 7, 0x91, 0x44, 0x77, 0x58, 0x10, 0x06, 0x50, 0, len(tpdu)]) + tpdu
    data = l3.rp_data(rp)
    assert data.reference == 9 and data.originator_sc == "447785016005" and data.tpdu == tpdu
    sms = l3.sms_deliver(tpdu)
    assert (sms.originator, sms.pid, sms.dcs, sms.udh, sms.user_data) == (
        "491701234",
        0x7F,
        0xF6,
        b"\x02\x70\x00",
        b"\x01\x02\x03",
    )
    assert sms.message_class == 2 and sms.alphabet == "8bit"
    assert (
        l3.rp_data(rp[:5]) is None
        and l3.sms_deliver(b"\x01\x02") is None
        and l3.sms_deliver(b"\x00\xff") is None
    )


@pytest.mark.parametrize(("dcs", "coding"), [(0x00, 0x00), (0xF4, 0xF4), (0xF5, 0xF5), (0x04, 0xF5), (0x14, 0xF4),
                                             (0x08, 0x08)])  # fmt: skip
def test_smpp_data_coding_map(dcs: int, coding: int) -> None:
    assert smpp_data_coding(dcs) == coding


def test_models_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        NetworkIdentity(mcc="1")
    with pytest.raises(ValueError):
        CellSecurity(ciphers=(9,))
    with pytest.raises(ValueError):
        Subscriber("001010123456789", "zz")
    with pytest.raises(ValueError):
        MtSms("+1", b"x", udh=b"\x05\x00")


def test_configs_follow_identity_and_security() -> None:
    false = CellSecurity.false_base_station()
    msc = configs.msc_config(NetworkIdentity(lac=7), false, sms_database="/x/sms.db", smpp_password="pw")
    assert "encryption a5 0" in msc and "authentication optional" in msc and "check-imei-rqd early" in msc
    bsc = configs.bsc_config(NetworkIdentity(lac=7, arfcn=880), CellSecurity())
    assert "location_area_code 7" in bsc and "arfcn 880" in bsc and "encryption a5 1 3" in bsc
    assert bsc.count("phys_chan_config") == 8
    assert "osmotrx ip remote 192.0.2.1" in configs.bts_trx_config(NetworkIdentity(), "192.0.2.1")


def test_radio_monitor_survives_hostile_frames(tmp_path: Path) -> None:
    monitor = RadioMonitor(VirtualUm(None, 871), tmp_path / "unused.pcap")
    sabm = lapdm.build(lapdm.Frame(0, 0, "U", True, command=lapdm.SABM, info=b"\x05\x08\xff\xff"))
    for payload in (
        sabm,
        b"\xff" * 23,
        b"",
        lapdm.build(lapdm.Frame(0, 1, "I", more=True, info=b"\x00" * 20)),
    ):
        monitor.handle(gsmtap.GsmtapFrame(871, True, 0, gsmtap.SDCCH4, False, 0, 1, 0, payload), 1.0)
    for _ in range(20):  # an endless segmented message is dropped, not kept
        monitor.handle(gsmtap.GsmtapFrame(871, False, 0, gsmtap.SDCCH4, False, 0, 1, 0, payload), 1.0)
    assert all(e.kind == "undecodable" for e in monitor.events())


def test_pcap_writer_is_bounded(tmp_path: Path) -> None:
    writer = PcapWriter(tmp_path / "x.pcap", limit=1000)
    for _ in range(100):
        writer.write(bytes(40), True, 1.0)
    writer.close()
    assert writer.truncated and (tmp_path / "x.pcap").stat().st_size < 1200
