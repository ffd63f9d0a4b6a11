"""The struct fast path against the tshark oracle, flow by flow, on real captures: the
committed reference captures (fast) and freshly recorded openssl sessions (integration)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.lab_sessions import REFERENCE_CAPTURES
from support.tshark import tshark_flows

from harness.analysis.capture import classify_flows
from harness.errors import HarnessSetupError

PCAPS = Path(__file__).parent / "data" / "pcaps"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _comparable(flow):
    return {
        "protocol": flow.protocol,
        "client": flow.client,
        "server": flow.server,
        "kind": flow.kind,
        "record_versions": sorted(flow.record_versions),
        "negotiated_version": flow.negotiated_version,
        "negotiated_suite": flow.negotiated_suite,
        "offered_suites": flow.offered_suites,
        "packets": flow.packets,
        "payload_bytes": flow.payload_bytes,
    }


# tshark prints epoch times in decimal and pcapng keeps them to the nanosecond: compare within a
# microsecond rather than by rounding, which splits values that straddle a rounding boundary.
TIME_TOLERANCE_S = 1e-6


def assert_same_flows(pcap: Path) -> list:
    fast = classify_flows(pcap)
    oracle = tshark_flows(pcap, timeout=120)
    assert [_comparable(f) for f in fast] == [_comparable(f) for f in oracle], pcap.name
    for mine, theirs in zip(fast, oracle, strict=True):
        assert abs(mine.first_seen - theirs.first_seen) <= TIME_TOLERANCE_S, (pcap.name, mine, theirs)
    return fast


@needs_tshark
@pytest.mark.parametrize("reference", REFERENCE_CAPTURES, ids=lambda r: r.name)
def test_fast_path_agrees_with_tshark_on_reference_captures(reference):
    flows = assert_same_flows(PCAPS / reference.name)
    assert {f.kind for f in flows} == {reference.kind}


@needs_tshark
def test_tshark_oracle_reads_time_windows():
    flows = tshark_flows(PCAPS / "plaintext.pcap", timeout=60)
    window = tshark_flows(PCAPS / "plaintext.pcap", start=flows[1].first_seen, end=flows[1].last_seen)
    assert [f.server for f in window] == [flows[1].server]


def test_tshark_oracle_timeout_is_a_setup_error(monkeypatch, tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    slow = fake_bin / "tshark"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(HarnessSetupError, match="did not finish"):
        tshark_flows(PCAPS / "dtls12.pcap", timeout=0.5)


@pytest.mark.integration
@needs_tshark
def test_fresh_openssl_sessions_agree_with_tshark(tmp_path):
    """Record every reference session again (real openssl on loopback) and compare."""
    if shutil.which("dumpcap") is None or shutil.which("openssl") is None:
        pytest.skip("dumpcap and openssl are needed to record sessions (apt-get install -y tshark openssl)")
    from support.lab_sessions import build_reference_captures

    try:
        built = build_reference_captures(tmp_path / "pcaps", tmp_path / "keys")
    except HarnessSetupError as error:
        if "dumpcap" in str(error) and os.geteuid() != 0:
            pytest.skip(f"cannot capture on lo without privileges: {error}")
        raise
    for reference in REFERENCE_CAPTURES:
        flows = assert_same_flows(built[reference.name])
        assert flows and {f.kind for f in flows} == {reference.kind}, reference.name
        for flow in flows:
            assert flow.negotiated_version == reference.negotiated_version
