"""FS38-SIP-01 and FS38-SIP-02: the device's SIP signalling and its SIP user agent's exposure.

SIP-01 watches the device's registrations to the lab's registrar (kamailio) in the capture, from
the boot until the capture covers OBSERVATION_S of the device's current life (waiting only for
what is missing: harness.device.observation), and searches every plaintext SIP header it sent for
its IMSI, IMEI or MSISDN; signalling carried only
over TLS to the registrar's SIP-over-TLS port (seen in the capture and in the registrar's log)
passes, since none of its headers is readable on the path. SIP-02 sends an INVITE
straight to the device's SIP port from the lab side, as an attacker around the registrar would.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from harness.analysis.capture import classify_flows, write_window
from harness.analysis.sip import SIP_DEFAULT_PORT, messages_in_capture
from harness.checks.sip import (
    EncryptedSignalling,
    SubscriberIdentity,
    judge_direct_request,
    judge_identity_exposure,
)
from harness.device.observation import observe
from harness.plugin.conclusions import conclude, inconclusive, not_applicable
from harness.probes.sip import send_direct_request

# Of the device's current life, from its login prompt: long enough for the reference UA's first
# registration and the next one (SIP_REGISTER_INTERVAL_S = 20).
OBSERVATION_S = 25.0


def _sip_feature(profile) -> None:
    reason = profile.features.absence_reason("sip")
    if reason:
        not_applicable(reason)


def _identity(device, profile) -> SubscriberIdentity:
    cellular = profile.cellular
    return SubscriberIdentity(imsi=cellular.imsi, imei=cellular.imei, msisdn=cellular.msisdn)


@pytest.mark.requirement("FS38-SIP-01", "EN303645-5.6-2", "EN303645-5.8-1", "CLP13_6.19")
@pytest.mark.requirement("TS103701-5.6-2-2a")
def test_sip_signalling_hides_subscriber_identity(device, profile, evidence):
    """IMSI/IMEI/MSISDN in any plaintext SIP header the device sends is a FAIL naming the header."""
    _sip_feature(profile)
    pcap = device.capture_path
    if pcap is None:
        inconclusive("the lab takes no capture of this device's traffic (lab config: capture)")
    registrar = device.lab_services.get("sip")
    if registrar is not None and getattr(registrar, "unavailable", None):
        inconclusive(f"the lab's SIP registrar could not run: {registrar.unavailable}")
    identity = _identity(device, profile)
    # Everything since boot counts: the first REGISTER usually goes out before this test starts.
    window = observe(device, OBSERVATION_S)
    end = window.end
    write_window(pcap, evidence.path("sip.pcap"), 0, end)
    messages = list(messages_in_capture(pcap, end=end))
    encrypted = _encrypted_signalling(device, registrar, pcap, end)
    tls_missing = getattr(registrar, "tls_unavailable", None) if registrar is not None else None
    outcome = judge_identity_exposure(
        messages, device.address, identity, encrypted, tls_unavailable=tls_missing or ""
    )
    if registrar is not None and hasattr(registrar, "log_text"):
        evidence.write_text("registrar.log", registrar.log_text())
    evidence.write_json(
        "sip-messages.json",
        {
            "window": {"end": end, "observed_from": window.start, "observation": window.as_dict()},
            "declared_identities": sorted(identity.values()),
            "messages": [
                {
                    "start_line": m.start_line,
                    "protocol": m.protocol,
                    "source": m.source,
                    "destination": m.destination,
                    "time": m.timestamp,
                    "headers": m.headers,
                }
                for m in messages
            ],  # fmt: skip
            "findings": outcome.details["identity_findings"],
        },
    )
    evidence.write_json("decision.json", {"verdict": outcome.verdict, "explanation": outcome.reason,
                                           "encrypted": asdict(encrypted)})  # fmt: skip
    conclude(outcome)


def _encrypted_signalling(device, registrar, pcap, end: float) -> EncryptedSignalling:
    """The device's TLS flows to the registrar's SIP-over-TLS port and its registrations over TLS."""
    tls_port = getattr(registrar, "tls_port", 0) if registrar is not None else 0
    if not tls_port:
        return EncryptedSignalling()
    flows = [
        flow.describe() + (f" ({flow.negotiated_version})" if flow.negotiated_version else "")
        for flow in classify_flows(pcap, end=end)
        if flow.kind == "tls" and flow.client[0] == device.address and flow.server[1] == tls_port
    ]
    registrations = [r for r in registrar.registrations() if r[1] == "tls"]
    return EncryptedSignalling(tuple(flows), len(registrations))


def _sip_port(profile) -> tuple[str, int]:
    for service in profile.network.services:
        if service.name.lower() == "sip":
            return service.protocol, int(service.port)
    return "tcp", SIP_DEFAULT_PORT  # the profile names no SIP service: the standard's port


@pytest.mark.requirement("FS38-SIP-02", "EN303645-5.5-4", "EN18031-ACM-2", "CLP13_7.6")
@pytest.mark.requirement("TS103701-5.5-4-2a")
def test_direct_invite_is_not_accepted(device, profile, evidence):
    """An INVITE sent straight to the device (no registrar, no credentials) must not be answered 180/200."""
    _sip_feature(profile)
    protocol, port = _sip_port(profile)
    try:
        host, lab_port = device.endpoint(protocol, port)
    except KeyError as exc:
        inconclusive(f"the lab cannot reach the device's SIP port {protocol}/{port}: {exc}")
    with device.lab_side():
        outcome = send_direct_request(host, lab_port, method="INVITE", transport=protocol,
                                      target=f"{device.address}:{port}")  # fmt: skip
    judged = judge_direct_request(outcome)
    evidence.write_json("direct-invite.json", {"outcome": asdict(outcome), "decision": judged.details["decision"],
                                                "explanation": judged.reason})  # fmt: skip
    conclude(judged)
