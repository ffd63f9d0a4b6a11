"""The AT driver (27.007 / 27.005) against three peers: ModemSimulator on a real pty (SIMCom and
Quectel radio-access commands, both knob settings), a scripted peer that sends exactly the bytes
a module may (echo, URCs before and inside answers, hostile lines), and the emulated module's own
AT interpreter (identity, registration, SMS in PDU mode read with plain AT commands)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from pycrate_mobile import TS23040_SMS as TP
from support.modem_simulator import ModemSimulator

from harness.cell import l3
from harness.drivers.modem import LINE_LIMIT, AtCommandError, AtModem
from harness.emulation.module.mobile_station import MsPolicy, Sim
from harness.emulation.module.module import LabChannels, ModuleCore, ModulePolicy
from harness.errors import DeviceTimeout
from harness.modems.profiles import profile
from harness.transports.socket import SocketStream
from harness.transports.stream import open_stream


@pytest.fixture(params=[False, True], ids=["lte-only", "gsm-fallback-enabled"])
def simulator(request):
    sim = ModemSimulator(gsm_fallback_enabled=request.param).start()
    stream = open_stream(sim.device_path)
    yield stream, request.param
    stream.close()
    sim.stop()


def test_driver_reads_answers_and_errors(simulator) -> None:
    stream, _ = simulator
    at = AtModem(stream, timeout=3)
    assert at.send("AT").ok
    assert at.send("AT+CGMI").lines == ["hilsec ModemSimulator (not a modem)"]
    answer = at.send("AT+FOO")
    assert not answer.ok and answer.final.startswith("+CME ERROR")
    with pytest.raises(AtCommandError):
        at.send("AT+FOO", check=True)


@pytest.mark.parametrize("module", ["simcom-sim7600", "quectel-bg96"])
def test_radio_access_is_read_with_the_module_profiles_command(simulator, module: str) -> None:
    stream, fallback = simulator
    reading = AtModem(stream, timeout=3, profile=profile(module)).radio_access()
    assert reading.allowed is not None
    assert ("gsm" in reading.allowed) is fallback, reading
    assert reading.command == profile(module).rat.query


class ScriptedPeer:
    """Answers each command line with canned bytes (or nothing), on a socketpair."""

    def __init__(self, script: dict[str, bytes], greeting: bytes = b"") -> None:
        self.script = script
        self.received: list[bytes] = []
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.stream = SocketStream.from_socket(theirs, "scripted peer")
        self.sock.sendall(greeting)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        buffer = b""
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                self.received.append(line)
                reply = self.script.get(line.decode(errors="replace"))
                if reply:
                    self.sock.sendall(reply)


def test_urcs_are_kept_apart_from_answers() -> None:
    peer = ScriptedPeer(
        {"AT+CSQ": b'AT+CSQ\r\r\n+CMTI: "ME",3\r\n\r\n+CSQ: 20,0\r\n\r\n+CREG: 1\r\n\r\nOK\r\n'},
        greeting=b"\r\nRDY\r\n",
    )
    at = AtModem(peer.stream, timeout=3)
    answer = at.send("AT+CSQ")
    assert answer.lines == ["+CSQ: 20,0"] and answer.ok
    assert [u.line for u in at.urcs] == ["RDY", '+CMTI: "ME",3', "+CREG: 1"]


def test_a_commands_own_prefix_stays_in_its_answer() -> None:
    peer = ScriptedPeer({"AT+CREG?": b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"})
    at = AtModem(peer.stream, timeout=3)
    assert at.send("AT+CREG?").values("+CREG:") == ["0,1"]
    assert not at.urcs


def test_a_two_line_urc_keeps_its_pdu() -> None:
    pdu = "0791947100000000F0040B919451213243F50000000000000000000461F1985C"
    peer = ScriptedPeer({"AT": f"\r\n+CMT: ,24\r\n{pdu}\r\n\r\nOK\r\n".encode()})
    at = AtModem(peer.stream, timeout=3)
    assert at.send("AT").lines == []
    assert at.urcs[0].line == "+CMT: ,24" and at.urcs[0].data == pdu


def test_final_result_codes_and_timeout() -> None:
    peer = ScriptedPeer({"ATD123;": b"\r\nNO CARRIER\r\n", "AT+CMGS=1": b"\r\n+CMS ERROR: 330\r\n"})
    at = AtModem(peer.stream, timeout=0.5)
    assert at.send("ATD123;").final == "NO CARRIER"
    assert at.send("AT+CMGS=1").final == "+CMS ERROR: 330"
    with pytest.raises(DeviceTimeout):
        at.send("AT+SILENT")


def test_an_endless_line_is_bounded() -> None:
    peer = ScriptedPeer({"ATI": b"\r\n" + b"A" * (LINE_LIMIT * 8) + b"\r\nOK\r\n"})
    answer = AtModem(peer.stream, timeout=3).send("ATI")
    assert answer.ok and all(len(line) <= LINE_LIMIT for line in answer.lines)


def _deliver(text: str, *, dcs: int = 0x00, pid: int = 0x00, sender: str = "491511234567") -> l3.Tpdu:
    message = TP.SMS_DELIVER()
    message["TP_OA"]["Num"].encode(sender)
    message["TP_PID"].from_bytes(bytes([pid]))
    message["TP_DCS"].from_bytes(bytes([dcs]))
    message["TP_UD"].set_val({"UD": text})
    return l3.sms_deliver(message.to_bytes())


@pytest.fixture(params=[False, True], ids=["hardened-module", "class0-silent-to-application"])
def module(request):
    core = ModuleCore(Sim("001010123456789", bytes(16)), "490154203237518",
                      ModulePolicy(MsPolicy(), class0_silent_to_application=request.param), radio=None)  # fmt: skip
    core.power_on()
    lab = LabChannels(core)
    stream = lab.open()
    yield core, AtModem(stream, timeout=3, profile=profile("hilsec-emulated-gsm")), request.param
    stream.close()
    lab.stop()
    core.stop()


def test_identity_and_registration_of_the_emulated_module(module) -> None:
    core, at, _ = module
    identity = at.identity()
    assert identity.manufacturer == "hilsec" and "emulated" in identity.model
    assert identity.imei == "490154203237518" and identity.imsi == "001010123456789"
    registration = at.registration()
    assert not registration.registered and registration.cs == "0" and registration.eps is None
    assert at.radio_access().allowed == frozenset({"gsm"})


def _stored_tpdus(lines: list[str], prefix: str) -> list[l3.Tpdu]:
    """The SMS-DELIVERs on the PDU lines after each `prefix` line of a +CMGL / +CMGR answer."""
    tpdus = []
    for header, pdu in zip(lines, lines[1:], strict=False):
        if header.startswith(prefix):
            octets = bytes.fromhex(pdu)
            tpdu = l3.sms_deliver(octets[1 + octets[0] :])  # after the SMSC address
            assert tpdu is not None, pdu
            tpdus.append(tpdu)
    return tpdus


def test_sms_in_pdu_mode_and_the_class0_silent_routing(module) -> None:
    core, at, to_application = module
    at.send("AT+CMGF=0", check=True)
    at.send("AT+CNMI=2,1,0,0,0", check=True)
    assert core._incoming(_deliver("plain")) is True
    assert core._incoming(_deliver("flash", dcs=0xF0)) is True
    assert core._incoming(_deliver("silent", pid=0x40)) is True
    deadline = time.monotonic() + 3
    while len([u for u in at.urcs if u.name == "+CMTI"]) < (3 if to_application else 1):
        assert time.monotonic() < deadline, list(at.urcs)
        at.send("AT", check=True)  # URCs that arrive meanwhile are queued apart from the answer
        time.sleep(0.1)
    listing = at.send("AT+CMGL=4", check=True).lines
    texts = sorted(tpdu.text for tpdu in _stored_tpdus(listing, "+CMGL:"))
    assert texts == (sorted(["plain", "flash", "silent"]) if to_application else ["plain"])
    index = int(listing[0].removeprefix("+CMGL:").split(",")[0])
    (first,) = _stored_tpdus(at.send(f"AT+CMGR={index}", check=True).lines, "+CMGR:")
    assert first.originator == "491511234567"
    at.send(f"AT+CMGD={index}", check=True)
    assert not at.send(f"AT+CMGR={index}").ok
