"""harness.checks.signed_updates both ways: safe handling passes, each unsafe outcome is named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.checks.signed_updates import (
    judge_installation,
    judge_manifest,
    judge_rejection,
    rejection_logged,
)
from harness.observations.update_delivery import DeliveryOutcome
from harness.results.verdicts import Verdict
from harness.updates.manifest import UpdateManifest

FILE = "unsigned-1.0.2-abcd.swu"
REJECTED = DeliveryOutcome(
    kind="unsigned",
    filename=FILE,
    url=f"http://10.0.2.2:8080/{FILE}",
    version_before="1.0.1",
    offered_version="1.0.2",
    version_after="1.0.1",
    exit_status=1,
    agent_output="hilsec-update: rejected update ...",
    log_lines=[f"Nov 23 user.err hilsec-update: rejected update {FILE}: package is not signed"],
)
INSTALLED = replace(
    REJECTED,
    version_after="1.0.2",
    exit_status=0,
    log_lines=[f"Nov 23 user.warning hilsec-update: update {FILE}: checks are switched off",
               f"Nov 23 user.notice hilsec-update: installed update {FILE}: version 1.0.1 -> 1.0.2"],
)  # fmt: skip


def test_a_refused_logged_package_passes() -> None:
    assert rejection_logged(REJECTED)
    outcome = judge_rejection(REJECTED, "no signature")
    assert outcome.verdict is Verdict.PASS and outcome.findings == ()


def test_an_installed_invalid_package_fails_naming_the_version_change() -> None:
    outcome = judge_rejection(INSTALLED, "no signature")
    assert outcome.verdict is Verdict.FAIL and outcome.reason == "; ".join(outcome.findings)
    findings = outcome.findings
    assert any("was installed: the running version changed from 1.0.1 to 1.0.2" in f for f in findings)
    assert any("exit status 0" in f for f in findings)
    assert any("no syslog line records the rejection" in f for f in findings)


def test_an_unlogged_rejection_fails() -> None:
    findings = judge_rejection(replace(REJECTED, log_lines=[]), "no signature").findings
    assert findings == (
        f"no syslog line records the rejection of the unsigned package {FILE} (no signature)",
    )


def test_a_log_line_for_another_package_does_not_count() -> None:
    other = replace(REJECTED, log_lines=["hilsec-update: rejected update other.swu: not signed"])
    assert not rejection_logged(other)


def test_a_device_that_stops_answering_fails() -> None:
    findings = judge_rejection(replace(REJECTED, answered=False, version_after=None), "truncated").findings
    assert findings == (
        f"the device stopped answering after the unsigned package {FILE} (truncated) was delivered",
    )


def test_a_package_activated_at_the_next_boot_fails() -> None:
    booted = replace(REJECTED, rebooted=True, version_after_reboot="1.0.2")
    assert any(
        "after a power cycle the device runs version 1.0.2" in f
        for f in judge_rejection(booted, "x").findings
    )
    assert judge_rejection(replace(REJECTED, rebooted=True, version_after_reboot="1.0.0"), "x").findings == ()


def test_valid_package_installed_passes_and_refused_fails() -> None:
    valid = replace(INSTALLED, kind="valid", filename="valid.swu")
    assert judge_installation(valid).findings == ()
    refused = replace(
        REJECTED, kind="valid", filename="valid.swu", agent_output="x\nrejected: download failed\n"
    )
    findings = judge_installation(refused).findings
    assert (
        "refused the valid package valid.swu (version 1.0.2) (exit status 1: rejected: download failed)"
        in findings[0]
    )
    assert "reports version 1.0.1" in findings[1]
    silent = replace(valid, version_after="1.0.1")  # exit 0 but nothing changed
    assert judge_installation(silent).findings == (
        "after installing the valid package valid.swu (version 1.0.2) the device reports version 1.0.1 (was 1.0.1)",
    )


def _manifest(**fields) -> UpdateManifest:
    base = {"kind": "update-manifest", "package": "fw", "version": "1.0.4", "security_only": True,
            "cves": ["CVE-2023-2650"]}  # fmt: skip
    return UpdateManifest.model_validate(base | fields)


def test_clean_security_manifest_passes() -> None:
    result = judge_manifest(_manifest())
    assert result.verdict is Verdict.PASS and result.findings == ()
    assert result.details["judged"] and result.details["not_applicable"] is None


@pytest.mark.parametrize("security_only", [True, False])
def test_security_fixes_with_features_fail(security_only: bool) -> None:
    result = judge_manifest(_manifest(security_only=security_only, feature_changes=["new dashboard"]))
    assert len(result.findings) == 1 and "feature changes: new dashboard" in result.findings[0]


def test_security_only_without_cves_fails() -> None:
    result = judge_manifest(_manifest(cves=[]))
    assert result.verdict is Verdict.FAIL and result.findings == (
        "the update manifest (version 1.0.4) is declared security-only but lists no CVE it fixes",
    )


def test_cves_from_fixes_count() -> None:
    result = judge_manifest(_manifest(cves=[], fixes=[{"cve": "CVE-2023-42366", "component": "busybox"}]))
    assert result.findings == () and "CVE-2023-42366" in result.details["judged"][0] == result.reason


def test_feature_release_is_not_applicable() -> None:
    result = judge_manifest(_manifest(security_only=False, cves=[], feature_changes=["dashboard"]))
    assert result.verdict is Verdict.NOT_APPLICABLE and "feature release" in result.reason
    assert result.details["not_applicable"] == result.reason
