"""harness.checks.update_channel both ways, and the lab's update servers on loopback."""

from __future__ import annotations

import datetime as dt
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from harness.checks.update_channel import (
    FallbackObservation,
    PatchLevelReading,
    fallback_applicability,
    judge_fallback,
    judge_patch_level,
    lab_server_role,
    parse_patch_level,
    release_patch_fields,
)
from harness.emulation.update_channel import update_channel_device_config
from harness.emulation.variants import Variant
from harness.lab.services.registry import LabEndpoints
from harness.lab.services.update_checks import MANUFACTURER, OPERATOR, UpdateCheckServers
from harness.results.verdicts import Verdict

TODAY = dt.date(2026, 11, 23)
LEVEL, APPLIED = dt.date(2026, 4, 7), dt.date(2026, 4, 10)
REFERENCE_OUTPUT = "firmware=1.0.0-hardened\nsecurity_patch_level=2026-04-07\napplied=2026-04-10\n"


def reading(output: str, status: int | None = 0) -> PatchLevelReading:
    return PatchLevelReading("hilsec-patchlevel", output, status, *parse_patch_level(output))


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        REFERENCE_OUTPUT,
        "Security patch level: 2026-04-07\nInstalled on: 2026-04-10",
        '+PATCHLEVEL: "2026-04-07","2026-04-10"',
        "applied=2026/04/10\nsecurity_patch=2026/04/07",
    ],
)
def test_parse_patch_level_reads_level_and_date(output: str) -> None:
    assert parse_patch_level(output) == (LEVEL, APPLIED)


def test_parse_patch_level_without_dates() -> None:
    assert parse_patch_level("firmware=1.0.0-hardened\n") == (None, None)
    assert parse_patch_level("security_patch_level=2026-13-45") == (None, None)


def test_release_patch_fields() -> None:
    text = "VERSION=1.0.0\nSECURITY_PATCH_LEVEL=2026-04-07\nSECURITY_PATCH_APPLIED=2026-04-10\n"
    assert release_patch_fields(text) == {"SECURITY_PATCH_LEVEL": LEVEL, "SECURITY_PATCH_APPLIED": APPLIED}


# --- SSU-COM-0040 --------------------------------------------------------------------------------


def test_patch_level_shown_and_consistent_passes() -> None:
    release = {"SECURITY_PATCH_LEVEL": LEVEL, "SECURITY_PATCH_APPLIED": APPLIED}
    result = judge_patch_level(reading(REFERENCE_OUTPUT), today=TODAY, release_fields=release)
    assert result.verdict == Verdict.PASS, result.reason
    assert "2026-04-07" in result.reason and "release file" in result.reason


def test_hidden_patch_level_fails() -> None:
    result = judge_patch_level(reading("firmware=1.0.0-hardened\n"), today=TODAY)
    assert result.verdict == Verdict.FAIL
    assert "no security patch level" in result.reason and "no date" in result.reason


def test_missing_command_fails() -> None:
    result = judge_patch_level(reading("sh: hilsec-patchlevel: not found", status=127), today=TODAY)
    assert result.verdict == Verdict.FAIL
    assert "exit status 127" in result.reason and "not found" in result.reason


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("security_patch_level=2027-01-01\napplied=2027-01-02", "in the future"),
        ("security_patch_level=2026-04-07\napplied=2026-04-01", "before it existed"),
    ],
)
def test_implausible_dates_fail(output: str, expected: str) -> None:
    result = judge_patch_level(reading(output), today=TODAY)
    assert result.verdict == Verdict.FAIL and expected in result.reason


def test_disagreement_with_release_file_fails() -> None:
    release = {"SECURITY_PATCH_LEVEL": dt.date(2026, 3, 9)}
    result = judge_patch_level(reading(REFERENCE_OUTPUT), today=TODAY, release_fields=release)
    assert result.verdict == Verdict.FAIL and "SECURITY_PATCH_LEVEL=2026-03-09" in result.reason


# --- SSU-TES-0020 --------------------------------------------------------------------------------

LAB_OPERATOR, LAB_MANUFACTURER = (
    "hilsec-lab://update-servers/operator",
    "hilsec-lab://update-servers/manufacturer",
)


def test_lab_server_role() -> None:
    assert lab_server_role(LAB_OPERATOR) == OPERATOR
    assert lab_server_role(LAB_MANUFACTURER + "/") == MANUFACTURER
    assert lab_server_role("https://fota.example.com/") is None


def test_fallback_applicability() -> None:
    assert fallback_applicability(LAB_OPERATOR, LAB_MANUFACTURER) is None
    outcome = fallback_applicability(None, LAB_MANUFACTURER)
    assert outcome.verdict == Verdict.NOT_APPLICABLE and "operator_update_server" in outcome.reason
    outcome = fallback_applicability(LAB_OPERATOR, None)
    assert outcome.verdict == Verdict.INCONCLUSIVE and "manufacturer_update_server" in outcome.reason
    outcome = fallback_applicability("https://fota.operator.example/", LAB_MANUFACTURER)
    assert outcome.verdict == Verdict.INCONCLUSIVE and "outside the lab" in outcome.reason


def observation(**changes) -> FallbackObservation:
    base = FallbackObservation("10.0.2.2:1", "10.0.2.2:2", 30.0, baseline_server=OPERATOR)
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_fallback_reached_passes() -> None:
    result = judge_fallback(observation(requests_after_block={MANUFACTURER: 1}, fallback_seconds=0.4))
    assert result.verdict == Verdict.PASS, result.reason
    assert "manufacturer's server (10.0.2.2:2)" in result.reason


def test_no_fallback_fails() -> None:
    result = judge_fallback(
        observation(requests_after_block={MANUFACTURER: 0}, device_output=["server=none"])
    )
    assert result.verdict == Verdict.FAIL
    assert "did not reach the manufacturer's server (10.0.2.2:2) within 30 s" in result.reason
    assert "server=none" in result.reason


def test_no_update_check_at_all_is_inconclusive() -> None:
    result = judge_fallback(observation(baseline_server=None))
    assert result.verdict == Verdict.INCONCLUSIVE and "reached neither" in result.reason


# --- the lab's servers and the knobs ------------------------------------------------------------


def _get(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/latest?running=1.0.0", timeout=5) as answer:
        return answer.read().decode()


def test_update_check_servers_log_and_go_unreachable(tmp_path: Path) -> None:
    servers = UpdateCheckServers()
    servers.start(tmp_path, LabEndpoints("127.0.0.1", "127.0.0.1"))
    try:
        assert servers.boot_arguments() == [
            f"hilsec.update_operator={servers.address(OPERATOR)}",
            f"hilsec.update_manufacturer={servers.address(MANUFACTURER)}",
        ]
        since = time.time()
        assert "server=operator" in _get(servers.address(OPERATOR))
        assert [e.path for e in servers.requests_since(OPERATOR, since)] == ["/latest?running=1.0.0"]
        assert servers.requests_since(MANUFACTURER, since) == []
        servers.make_unreachable(OPERATOR)
        assert not servers.reachable(OPERATOR)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", servers.servers[OPERATOR].port), timeout=2).close()
        assert "server=manufacturer" in _get(servers.address(MANUFACTURER))
        servers.restore(OPERATOR)
        assert "server=operator" in _get(servers.address(OPERATOR))
    finally:
        servers.stop()


def test_knobs_reach_device_conf() -> None:
    assert update_channel_device_config(set()) | {} == {
        "SECURITY_PATCH_LEVEL": "2026-04-07",
        "SECURITY_PATCH_APPLIED": "2026-04-10",
        "PATCH_LEVEL_SHOWN": "yes",
        "UPDATE_FALLBACK": "manufacturer",
    }
    vulnerable = Variant.custom({"patch-level-hidden", "no-update-fallback"}).device_config()
    assert "PATCH_LEVEL_SHOWN='no'" in vulnerable and "UPDATE_FALLBACK='none'" in vulnerable
    assert "SECURITY_PATCH_LEVEL=2026-04-07" in Variant.custom(set()).release_file()
