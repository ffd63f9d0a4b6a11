"""harness.checks.update_channel both ways, and the lab's update servers on loopback."""

from __future__ import annotations

import datetime as dt
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from harness.checks.update_channel import (
    AUTOMATIC_CHECK_FIELD,
    AutomaticCheckWatch,
    FallbackObservation,
    PatchLevelReading,
    ServerRequest,
    automatic_check_applicability,
    fallback_applicability,
    judge_automatic_check,
    judge_fallback,
    judge_patch_level,
    lab_server_role,
    parse_patch_level,
    release_patch_fields,
    untriggered_requests,
)
from harness.config.profile import UpdatePolicy
from harness.emulation.update_channel import update_channel_device_config
from harness.emulation.variants import Variant
from harness.lab.services.registry import LabEndpoints
from harness.lab.services.update_checks import HARNESS_CHECKS_KEPT, MANUFACTURER, OPERATOR, UpdateCheckServers
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
        "UPDATE_CHECK_INTERVAL": "20",
        "UPDATE_CHECK_FIRST": "5",
    }
    assert update_channel_device_config({"no-automatic-update-check"})["UPDATE_CHECK_INTERVAL"] == "off"
    vulnerable = Variant.custom({"patch-level-hidden", "no-update-fallback"}).device_config()
    assert "PATCH_LEVEL_SHOWN='no'" in vulnerable and "UPDATE_FALLBACK='none'" in vulnerable
    assert "SECURITY_PATCH_LEVEL=2026-04-07" in Variant.custom(set()).release_file()


# --- SSU-SEC-0001: the device's own update checks -----------------------------------------------

START = 1_000_000.0
SERVERS = {OPERATOR: "10.0.2.2:8081", MANUFACTURER: "10.0.2.2:8082"}


def watch(*requests: ServerRequest, harness_checks=(), interval: int = 20) -> AutomaticCheckWatch:
    return AutomaticCheckWatch(
        interval, 15.0, START, START + 35.0, dict(SERVERS), list(requests), list(harness_checks)
    )


def request(after_s: float, role: str = MANUFACTURER, path: str = "/latest?running=1.0.0") -> ServerRequest:
    return ServerRequest(role, START + after_s, "10.0.2.15", path)


def test_an_untriggered_check_within_the_interval_passes() -> None:
    result = judge_automatic_check(watch(request(12.3)))
    assert result.verdict == Verdict.PASS, result.reason
    assert "12.3 s into the stretch of its life watched" in result.reason
    assert "manufacturer's update-check server 10.0.2.2:8082" in result.reason


def test_any_server_and_path_counts() -> None:
    result = judge_automatic_check(watch(request(3.0, OPERATOR, "/v2/firmware/check")))
    assert result.verdict == Verdict.PASS and "'/v2/firmware/check'" in result.reason


def test_no_check_at_all_fails() -> None:
    result = judge_automatic_check(watch())
    assert result.verdict == Verdict.FAIL
    assert "does not check for updates on its own" in result.reason and "within 35 s" in result.reason


def test_a_check_the_harness_started_does_not_count() -> None:
    triggered = request(4.0)
    result = judge_automatic_check(watch(triggered, harness_checks=[(START + 3.0, START + 7.0)]))
    assert result.verdict == Verdict.FAIL
    assert "1 request(s) of checks the harness started left out" in result.reason


def test_requests_before_the_watch_or_after_the_bound_do_not_count() -> None:
    early, late = request(-1.0), request(35.5)
    assert untriggered_requests(watch(early, late)) == []
    assert judge_automatic_check(watch(early, late)).verdict == Verdict.FAIL


def test_the_first_own_check_is_named_after_a_triggered_one() -> None:
    own = request(9.0, OPERATOR)
    found = untriggered_requests(watch(request(2.0), own, harness_checks=[(START + 1.0, START + 3.0)]))
    assert found == [own]


def test_a_hostile_path_is_escaped() -> None:
    result = judge_automatic_check(watch(request(1.0, path="/latest\x1b[2J\n")))
    assert result.verdict == Verdict.PASS
    assert "\x1b" not in result.reason and "\n" not in result.reason and "\\x1b[2J" in result.reason


def test_undeclared_interval_is_inconclusive_naming_the_field() -> None:
    result = automatic_check_applicability(None, dict(SERVERS), 15.0)
    assert result is not None and result.verdict == Verdict.INCONCLUSIVE
    assert AUTOMATIC_CHECK_FIELD in result.reason


def test_a_lab_without_update_check_servers_is_inconclusive_naming_the_key() -> None:
    result = automatic_check_applicability(20, {}, 15.0)
    assert result is not None and result.verdict == Verdict.INCONCLUSIVE
    assert "lab.servers.update_check_operator_port" in result.reason


def test_an_interval_longer_than_the_harness_waits_is_inconclusive() -> None:
    result = automatic_check_applicability(86_400, dict(SERVERS), 15.0)
    assert result is not None and result.verdict == Verdict.INCONCLUSIVE and "86400 s" in result.reason
    assert automatic_check_applicability(20, dict(SERVERS), 15.0) is None


@pytest.mark.parametrize("value", [0, -5, 86_401, "hourly", 1.5])
def test_the_interval_field_rejects_bad_values(value) -> None:
    with pytest.raises(ValueError):
        UpdatePolicy.model_validate({"automatic_check_interval_s": value})
    assert (
        UpdatePolicy.model_validate({"automatic_check_interval_s": 3600}).automatic_check_interval_s == 3600
    )


def test_the_lab_keeps_a_bounded_list_of_harness_checks() -> None:
    servers = UpdateCheckServers()
    for index in range(HARNESS_CHECKS_KEPT + 5):
        servers.note_harness_check(float(index), index + 1.0)
    kept = servers.harness_checks()
    assert len(kept) == HARNESS_CHECKS_KEPT and kept[-1] == (
        HARNESS_CHECKS_KEPT + 4.0,
        HARNESS_CHECKS_KEPT + 5.0,
    )
