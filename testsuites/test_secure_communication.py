"""FS38-04: every flow the device starts to a remote endpoint is encrypted with current protocols.

The device runs its normal traffic while the lab watches for a set time; the capture is classified
at the record layer (DTLS/TLS versions and the suite the server chose).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from harness.analysis.capture import classify_flows, write_window
from harness.checks.secure_communication import DEFAULT_ALLOWANCES, PlaintextAllowance, assess_flows
from harness.plugin.conclusions import inconclusive

pytestmark = pytest.mark.requirement("FS38-04", "EN303645-5.5-1", "CLP13_6.19")

# Sessions still in their handshake when the window closes are given this long to finish.
HANDSHAKE_GRACE_S = 5.0


def test_device_traffic_is_encrypted(device, profile, evidence):
    """Plaintext application payload, TLS/DTLS below 1.2 or a weak suite on any flow is a FAIL."""
    pcap = device.capture_path
    if pcap is None:
        inconclusive("the lab takes no capture of this device's traffic (lab config: capture)")
    seconds = float(profile.secure_communication.observation_seconds)
    start = time.time()
    time.sleep(seconds)
    end = time.time()
    time.sleep(HANDSHAKE_GRACE_S)

    # Judge every flow active in the window, classified from its first packet on, so a session
    # that began before the window or ends after it is seen whole.
    write_window(pcap, evidence.path("traffic.pcap"), start, end + HANDSHAKE_GRACE_S)
    flows = [
        flow
        for flow in classify_flows(pcap, end=end + HANDSHAKE_GRACE_S)
        if flow.last_seen >= start and flow.first_seen <= end
    ]
    allowances = list(DEFAULT_ALLOWANCES) + [
        PlaintextAllowance(a.protocol, a.port, a.reason)
        for a in profile.secure_communication.plaintext_allowed
    ]
    result = assess_flows(flows, device.address, allowances)
    evidence.write_json(
        "flows.json",
        {
            "window": {"start": start, "end": end, "seconds": seconds},
            "device_address": device.address,
            "flows": [asdict(f) | {"plaintext_sample": f.plaintext_sample.hex()} for f in flows],
            "assessment": asdict(result),
        },
    )
    assert not result.findings, "; ".join(result.findings)
    if result.undetermined:
        inconclusive("could not see the outcome of: " + "; ".join(result.undetermined))
    if not result.protected:
        inconclusive(f"the device started no flow to a remote endpoint in {seconds:.0f} s of observation")
