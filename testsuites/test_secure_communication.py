"""FS38-04: every flow the device starts to a remote endpoint is encrypted with current protocols.

The capture must cover at least the profile's observation time of the device's current life
(harness.device.observation: late in a session it already does, so the test waits for nothing);
then every flow of the whole run's capture (every file: one per boot) is judged from its
content, not its framing: record versions, the suite the server chose, whether application data
reads as text, whether a handshake with the peer really happened. The test runs after the
session's other tests (`whole_run`), so flows the device started during them count too.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from harness.analysis.capture import analyze_capture, write_window
from harness.capabilities import Capture
from harness.checks.secure_communication import DEFAULT_ALLOWANCES, PlaintextAllowance, judge_traffic
from harness.device.observation import observe
from harness.plugin.conclusions import conclude, inconclusive

pytestmark = [pytest.mark.requirement("FS38-04", "EN303645-5.5-1", "CLP13_6.19"), pytest.mark.whole_run]

# Sessions still in their handshake when the window closes are given this long to finish: the
# capture is read this far past the window's end.
HANDSHAKE_GRACE_S = 5.0


@pytest.mark.requirement("TS103701-5.5-1-2a", "TS103701-5.5-1-1c", "TS103701-5.5-1-1d")
def test_device_traffic_is_encrypted(device, profile, evidence):
    """Plaintext (also inside DTLS/TLS framing), a handshake never made with the peer, only
    deprecated versions offered, TLS/DTLS below 1.2 or a weak suite on any flow of the run is a FAIL."""
    capture = device.get(Capture)
    if capture is None:
        inconclusive(f"the lab takes no capture of this device's traffic ({Capture.CONFIG})")
    seconds = float(profile.secure_communication.observation_seconds)
    window = observe(device, seconds + HANDSHAKE_GRACE_S)
    end = window.end - HANDSHAKE_GRACE_S

    files = [path for path in capture.files() if path.is_file()]
    if not files:
        inconclusive(f"the capture ({capture.description}) holds no file yet")
    analysis = analyze_capture(files, end=window.end)
    for index, path in enumerate(files, start=1):
        write_window(path, evidence.path(f"traffic-{index}.pcap"), 0.0, window.end)
    allowances = list(DEFAULT_ALLOWANCES) + [
        PlaintextAllowance(a.protocol, a.port, a.reason)
        for a in profile.secure_communication.plaintext_allowed
    ]
    outcome = judge_traffic(
        analysis,
        device.address,
        allowances,
        observed_seconds=seconds,
        lab_endpoints=device.lab_service_endpoints(),
    )
    evidence.write_json(
        "flows.json",
        {
            "window": {
                "start": window.start,
                "end": end,
                "seconds": seconds,
                "observation": window.as_dict(),
            },
            "capture_files": [str(path) for path in files],
            "device_address": device.address,
            "flows": [
                asdict(f)
                | {
                    "plaintext_sample": f.plaintext_sample.hex(),
                    "readable_application_data": f.readable_application_data.hex(),
                }
                for f in analysis.flows
            ],
            "assessment": outcome.as_dict(),
        },
    )
    conclude(outcome)
