"""FS38-04's decision logic, both ways: weak traffic FAILS, strong traffic PASSES."""

from __future__ import annotations

from harness.analysis.capture import Flow
from harness.checks.secure_communication import PlaintextAllowance, group_flows

DEVICE = "10.0.2.15"


def _flow(kind: str, *, version: str | None = "DTLS 1.2", suite: int | None = 0xC02C, port: int = 5684,
          client: str = DEVICE, protocol: str = "udp", sample: bytes = b"") -> Flow:  # fmt: skip
    return Flow(
        protocol=protocol, client=(client, 40000), server=("10.0.2.2", port), first_seen=0.0,
        last_seen=1.0, packets=4, payload_bytes=400, kind=kind,
        record_versions=[version] if version else [], negotiated_version=version,
        negotiated_suite=suite, offered_suites=[], plaintext_sample=sample,
    )  # fmt: skip


def test_dtls12_with_aead_suite_passes() -> None:
    result = group_flows([_flow("dtls")], DEVICE)
    assert not result.findings and not result.undetermined
    assert result.protected


def test_plaintext_udp_fails_naming_the_flow() -> None:
    result = group_flows(
        [_flow("plaintext", version=None, suite=None, port=5683, sample=b"temp=21.5")], DEVICE
    )
    assert result.findings and "10.0.2.2:5683" in result.findings[0] and "temp=21.5" in result.findings[0]


def test_dtls10_fails() -> None:
    result = group_flows([_flow("dtls", version="DTLS 1.0")], DEVICE)
    assert "below DTLS 1.2" in result.findings[0]


def test_tls11_fails_and_tls13_passes() -> None:
    assert group_flows([_flow("tls", version="TLS 1.1", protocol="tcp")], DEVICE).findings
    assert not group_flows([_flow("tls", version="TLS 1.3", suite=0x1301, protocol="tcp")], DEVICE).findings


def test_weak_suites_fail() -> None:
    for suite in (0x000A, 0x0005, 0x0001, 0x0003):  # 3DES, RC4, NULL, EXPORT
        assert group_flows([_flow("dtls", suite=suite)], DEVICE).findings, hex(suite)


def test_incomplete_handshake_is_undetermined_not_pass() -> None:
    result = group_flows([_flow("dtls", version=None, suite=None)], DEVICE)
    assert result.undetermined and not result.protected


def test_flows_the_lab_opened_are_not_the_devices_traffic() -> None:
    inbound = _flow("plaintext", client="10.0.2.2", version=None, suite=None, port=23)
    assert not group_flows([inbound], DEVICE).findings


def test_allowances_exempt_with_reason() -> None:
    dhcp = _flow("plaintext", version=None, suite=None, port=67)
    ntp = _flow("plaintext", version=None, suite=None, port=123)
    result = group_flows([dhcp, ntp], DEVICE, [PlaintextAllowance("udp", 67, "DHCP")])
    assert len(result.findings) == 1 and "123" in result.findings[0]
    assert "DHCP" in result.exempted[0]


def test_plaintext_http_to_the_labs_own_update_server_is_exempt_and_nothing_else_is() -> None:
    update = _flow(
        "plaintext", version=None, suite=None, port=8080, sample=b"GET /latest?running=1.0 HTTP/1.1"
    )
    beacon = _flow("plaintext", version=None, suite=None, port=5683, sample=b"hello imei=1")
    lab = {("10.0.2.2", 8080): "hilsec.update_operator", ("10.0.2.2", 5683): "hilsec.telemetry_plain"}
    result = group_flows([update, beacon], DEVICE, lab_endpoints=lab)
    assert len(result.exempted) == 1 and "hilsec.update_operator" in result.exempted[0]
    assert len(result.findings) == 1 and "hello imei" in result.findings[0]


def test_a_handshake_cut_short_is_interrupted_only_where_the_server_completed_another() -> None:
    done = _flow("dtls")
    cut = _flow("dtls", version=None, suite=None)
    cut.offered_versions = ["DTLS 1.2"]
    elsewhere = _flow("dtls", version=None, suite=None, port=6000)
    elsewhere.offered_versions = ["DTLS 1.2"]
    result = group_flows([cut, done, elsewhere], DEVICE)
    assert len(result.interrupted) == 1 and "10.0.2.2:5684" in result.interrupted[0]
    assert len(result.undetermined) == 1 and "10.0.2.2:6000" in result.undetermined[0]
    assert not result.findings
