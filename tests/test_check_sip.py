"""FS38-SIP-01/02 decisions both ways, the SIP parser against tshark, and the lab's registrar and
probe against real kamailio and SIPp on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.analysis.capture.pcapio import PcapWriter
from harness.analysis.sip import messages_in_capture, parse_messages
from harness.checks.sip import (
    ACCEPTED,
    NO_LISTENER,
    REJECTED,
    UNDETERMINED,
    EncryptedSignalling,
    SubscriberIdentity,
    judge_direct_request,
    judge_identity_exposure,
)
from harness.lab.services.registry import LabEndpoints
from harness.lab.services.sip_registrar import REFERENCE_SIP_PASSWORD, REFERENCE_SIP_USER, KamailioRegistrar
from harness.observations.sip import DirectRequestOutcome
from harness.probes.sip import send_direct_request
from harness.results.verdicts import Verdict
from harness.util.text import masked_identity

IMSI, IMEI = "001010123456789", "490154203237518"
IDENTITY = SubscriberIdentity(imsi=IMSI, imei=IMEI)
SCENARIOS = Path(__file__).resolve().parent.parent / "harness/emulation/overlay/usr/share/hilsec/sip"


def register(user: str, user_agent: str, instance: str) -> bytes:
    return (
        "REGISTER sip:lab.hilsec.test SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.2.15:5060;branch=z9hG4bK1;rport\r\n"
        f"f: <sip:{user}@lab.hilsec.test>;tag=1\r\n"
        f"To: <sip:{user}@lab.hilsec.test>\r\n"
        "Call-ID: 1-abc@10.0.2.15\r\nCSeq: 1 REGISTER\r\n"
        f'Contact: <sip:{user}@10.0.2.15:5060>;+sip.instance="<{instance}>"\r\n'
        f"User-Agent: {user_agent}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _with_route(message_bytes: bytes, source: str = "10.0.2.15"):
    messages = parse_messages(message_bytes)
    for message in messages:
        message.protocol, message.source, message.destination = "udp", (source, 5060), ("10.0.2.2", 40000)
    return messages


def test_imsi_and_imei_in_headers_are_found_and_named() -> None:
    data = register(IMSI, f"node/1.0 IMEI/{IMEI}", "urn:gsma:imei:49015420-323751-8")
    result = judge_identity_exposure(_with_route(data), "10.0.2.15", IDENTITY, EncryptedSignalling())
    found = {(f["kind"], f["header"]) for f in result.details["identity_findings"]}
    assert ("IMSI", "From") in found and ("IMSI", "To") in found and ("IMSI", "Contact") in found
    assert ("IMEI", "User-Agent") in found and ("IMEI", "Contact") in found
    assert "IMSI in plaintext SIP header From of 'REGISTER sip:lab.hilsec.test SIP/2.0'" in result.findings[0]


def test_fail_reason_names_every_header_in_one_short_clause() -> None:
    data = register(IMSI, f"node/1.0 IMEI/{IMEI}", "urn:gsma:imei:49015420-323751-8")
    result = judge_identity_exposure(_with_route(data), "10.0.2.15", IDENTITY, EncryptedSignalling())
    verdict, reason = result.verdict, result.reason
    assert verdict == Verdict.FAIL and reason.count("REGISTER") == 1 and len(reason) < 300
    assert "IMSI in plaintext SIP headers From, To, Contact" in reason
    assert "IMEI in plaintext SIP headers Contact, User-Agent" in reason


def test_pseudonymous_registration_passes() -> None:
    data = register("node-7f3a", "node/1.0", "urn:uuid:5f0c6e1a-3b7d-4c2e-9a41-7d2b8e6f1c03")
    result = judge_identity_exposure(_with_route(data), "10.0.2.15", IDENTITY, EncryptedSignalling())
    assert result.verdict is Verdict.PASS and result.findings == ()
    assert result.details["device_messages"] == 1 and result.details["headers_checked"] > 5


def test_identities_found_by_form_without_a_declaration() -> None:
    data = register(f"{IMSI}@ims.mnc001.mcc001.3gppnetwork.org", "x", "urn:gsma:imei:49015420-323751-8")
    result = judge_identity_exposure(
        _with_route(data), "10.0.2.15", SubscriberIdentity(), EncryptedSignalling()
    )
    kinds = {f["kind"] for f in result.details["identity_findings"]}
    assert kinds == {"IMSI", "IMEI"}


def test_only_messages_the_device_sent_count() -> None:
    data = register(IMSI, "x", "urn:uuid:1")
    result = judge_identity_exposure(
        _with_route(data, "10.0.2.2"), "10.0.2.15", IDENTITY, EncryptedSignalling()
    )
    assert result.details["device_messages"] == 0 and result.verdict is Verdict.INCONCLUSIVE


def test_a_masked_identity_keeps_the_identity_out_of_reports() -> None:
    assert masked_identity(IMSI) == "00101********89" and IMSI not in masked_identity(IMSI)
    assert masked_identity("1234567") == "*******"  # too short to show any of it


TLS_FLOW = "tcp 10.0.2.15:40000 -> 10.0.2.2:45061 (TLSv1.3)"


def test_identity_in_clear_fails_even_when_tls_is_also_used() -> None:
    data = register(IMSI, "x", "urn:uuid:1")
    result = judge_identity_exposure(
        _with_route(data), "10.0.2.15", IDENTITY, EncryptedSignalling((TLS_FLOW,), 1)
    )
    verdict, reason = result.verdict, result.reason
    assert verdict == Verdict.FAIL and "IMSI in plaintext SIP headers From" in reason


def test_signalling_only_over_tls_passes_without_a_declared_identity() -> None:
    """Nothing readable on the path: the verdict does not depend on knowing what to look for."""
    for encrypted in (EncryptedSignalling((TLS_FLOW,), 2), EncryptedSignalling((TLS_FLOW,)),
                      EncryptedSignalling((), 1)):  # fmt: skip
        result = judge_identity_exposure([], "10.0.2.15", SubscriberIdentity(), encrypted)
        verdict, reason = result.verdict, result.reason
        assert verdict == Verdict.PASS and "over TLS" in reason, encrypted


def test_no_sip_seen_at_all_is_inconclusive() -> None:
    result = judge_identity_exposure([], "10.0.2.15", IDENTITY, EncryptedSignalling())
    assert result.verdict == Verdict.INCONCLUSIVE and "no SIP" in result.reason
    missing = judge_identity_exposure(
        [], "10.0.2.15", IDENTITY, EncryptedSignalling(), tls_unavailable="no TLS key"
    )
    assert missing.reason == result.reason + " (no TLS key)"


def test_plaintext_sip_needs_a_declared_identity_to_pass() -> None:
    data = register("node-7f3a", "node/1.0", "urn:uuid:1")
    result = judge_identity_exposure(
        _with_route(data), "10.0.2.15", SubscriberIdentity(), EncryptedSignalling()
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    result = judge_identity_exposure(_with_route(data), "10.0.2.15", IDENTITY, EncryptedSignalling())
    assert result.verdict == Verdict.PASS


@pytest.mark.parametrize(
    ("outcome", "decision"),
    [
        (DirectRequestOutcome("INVITE", "TCP", "d", [100, 180, 200]), ACCEPTED),
        (DirectRequestOutcome("INVITE", "TCP", "d", [180]), ACCEPTED),
        (DirectRequestOutcome("MESSAGE", "UDP", "d", [202]), ACCEPTED),
        (DirectRequestOutcome("INVITE", "TCP", "d", [100, 403]), REJECTED),
        (DirectRequestOutcome("INVITE", "TCP", "d", [488]), REJECTED),
        (DirectRequestOutcome("INVITE", "TCP", "d", [], "refused"), NO_LISTENER),
        (DirectRequestOutcome("INVITE", "TCP", "d", [], "closed"), NO_LISTENER),
        (DirectRequestOutcome("INVITE", "UDP", "d", [], "silent"), UNDETERMINED),
        (DirectRequestOutcome("INVITE", "UDP", "d", [100], "answered"), UNDETERMINED),
    ],
)
def test_direct_request_decisions(outcome: DirectRequestOutcome, decision: str) -> None:
    judged = judge_direct_request(outcome)
    assert judged.details["decision"] == decision
    verdict = {ACCEPTED: Verdict.FAIL, REJECTED: Verdict.PASS, NO_LISTENER: Verdict.PASS}.get(decision)
    assert judged.verdict is (verdict or Verdict.INCONCLUSIVE)


def test_parser_agrees_with_tshark(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    pcap = tmp_path / "sip.pcap"
    with pcap.open("wb") as handle:
        writer = PcapWriter(handle, 101)  # raw IPv4
        for i, payload in enumerate(
            [register(IMSI, "a", "urn:uuid:1"), b"not sip at all", register("x", "b", "u")]
        ):
            udp = (
                (5060).to_bytes(2, "big") + (40000).to_bytes(2, "big") + (8 + len(payload)).to_bytes(2, "big")
            )
            udp += b"\0\0" + payload
            ip = bytes(
                [
                    0x45,
                    0,
                    *(20 + len(udp)).to_bytes(2, "big"),
                    0,
                    i,
                    0,
                    0,
                    64,
                    17,
                    0,
                    0,
                    10,
                    0,
                    2,
                    15,
                    10,
                    0,
                    2,
                    2,
                ]
            )
            writer.write(1000.0 + i, ip + udp)
    ours = [m.header("from") for m in messages_in_capture(pcap)]
    done = subprocess.run(["tshark", "-r", str(pcap), "-Y", "sip", "-T", "fields", "-e", "sip.From"],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert ours == [line for line in done.stdout.splitlines() if line]


needs_kamailio = pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio not installed")
needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) not installed")


@pytest.fixture()
def registrar(tmp_path: Path):
    service = KamailioRegistrar()
    service.start(tmp_path, LabEndpoints("127.0.0.1", "127.0.0.1"))
    yield service
    service.stop()


@needs_kamailio
def test_registrar_refuses_an_unauthenticated_register(registrar: KamailioRegistrar) -> None:
    """The lab's own setup: a REGISTER without credentials gets a challenge, never a binding."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(register(REFERENCE_SIP_USER, "x", "urn:uuid:1"), ("127.0.0.1", registrar.udp_port))
        answer = parse_messages(sock.recv(65535))[0]
    assert answer.status == 401 and answer.header("www-authenticate").startswith("Digest")
    assert "registered user=" not in registrar.log_text()


@needs_kamailio
@needs_sipp
@pytest.mark.parametrize(
    ("password", "registered"), [("sip-lab-Quill-5520", True), ("wrong-password", False)]
)
def test_registrar_with_the_device_scenario(
    registrar: KamailioRegistrar, password: str, registered: bool
) -> None:
    """The reference device's SIPp scenario registers with the right password, not with a wrong one."""
    argv = ["sipp", "-sf", str(SCENARIOS / "register.xml"), "-m", "1", "-l", "1", "-nostdin", "-timeout", "8s",
            "-timeout_error", "-au", REFERENCE_SIP_USER, "-ap", password, "-key", "domain", "lab.hilsec.test",
            "-key", "sip_user", REFERENCE_SIP_USER, "-key", "user_agent", "t", "-key", "contact_params", "",
            "-i", "127.0.0.1", "-p", "0", f"127.0.0.1:{registrar.udp_port}"]  # fmt: skip
    done = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
        cwd=registrar.log_path.parent,
    )
    assert (done.returncode == 0) is registered
    time.sleep(0.2)
    assert ("registered user=" in registrar.log_text()) is registered


@needs_sipp
def test_probe_against_a_real_sipp_listener_both_ways(tmp_path: Path) -> None:
    """The probe sees the accepting scenario's 180/200; a closed port is 'no listener'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = send_direct_request("127.0.0.1", port, timeout=2)
    assert judge_direct_request(closed).details["decision"] == NO_LISTENER
    uas = subprocess.Popen(["sipp", "-sf", str(SCENARIOS / "accept-direct-calls.xml"), "-t", "t1", "-i", "127.0.0.1",
                            "-p", str(port), "-nostdin", "-timeout", "30s"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        outcome = send_direct_request("127.0.0.1", port, timeout=5)
    finally:
        uas.terminate()
        uas.wait(timeout=10)
    judged = judge_direct_request(outcome)
    assert judged.details["decision"] == ACCEPTED and 200 in outcome.statuses, judged.reason


needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")


def _tls_wrapper(registrar: KamailioRegistrar, cafile: Path, workdir: Path) -> tuple[subprocess.Popen, int]:
    """The reference device's TLS wrapper as its init script runs it: socat, loopback in, TLS out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
            f"OPENSSL:127.0.0.1:{registrar.tls_port},verify=1,cafile={cafile},commonname=hilsec-lab-peer"]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=workdir)  # fmt: skip
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, port


def _register_over_tcp(port: int, workdir: Path) -> int:
    argv = ["sipp", "-sf", str(SCENARIOS / "register.xml"), "-t", "t1", "-i", "127.0.0.1", "-p", "0", "-m", "1",
            "-l", "1", "-nostdin", "-timeout", "8s", "-timeout_error", "-au", REFERENCE_SIP_USER, "-ap",
            REFERENCE_SIP_PASSWORD, "-key", "domain", "lab.hilsec.test", "-key", "sip_user", REFERENCE_SIP_USER,
            "-key", "user_agent", "t", "-key", "contact_params", "", f"127.0.0.1:{port}"]  # fmt: skip
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False, cwd=workdir
    )
    return done.returncode


@needs_kamailio
@needs_sipp
@needs_socat
def test_device_registers_over_tls_through_the_pinned_wrapper(
    registrar: KamailioRegistrar, tmp_path: Path
) -> None:
    """SIPp over TCP -> socat -> TLS -> kamailio: the registrar records a registration over TLS."""
    if registrar.tls_unavailable:
        pytest.skip(registrar.tls_unavailable)
    words = registrar.boot_arguments()
    assert f"hilsec.sip_tls=127.0.0.1:{registrar.tls_port}" in words
    assert f"hilsec.sip_tls_sha256={registrar.certificate_sha256()}" in words
    proc, port = _tls_wrapper(registrar, registrar.certificate, tmp_path)
    try:
        assert _register_over_tcp(port, tmp_path) == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    time.sleep(0.2)
    assert (REFERENCE_SIP_USER, "tls") in registrar.registrations()


@needs_kamailio
@needs_sipp
@needs_socat
def test_wrapper_refuses_a_registrar_it_does_not_pin(registrar: KamailioRegistrar, tmp_path: Path) -> None:
    """Another certificate as the only trust anchor: the TLS handshake fails and nothing registers."""
    if registrar.tls_unavailable:
        pytest.skip(registrar.tls_unavailable)
    other = tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(other), "-subj", "/CN=hilsec-lab-peer",
                    "-days", "1"], capture_output=True, timeout=30, check=True)  # fmt: skip
    proc, port = _tls_wrapper(registrar, other, tmp_path)
    try:
        assert _register_over_tcp(port, tmp_path) != 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert registrar.registrations() == []
