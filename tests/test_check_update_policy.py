"""FS.25's conceptual update-policy checks, every way: weak evidence FAILS, good evidence PASSES,
missing evidence is INCONCLUSIVE naming the field; and the suite end to end on both reference profiles.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.checks import update_policy as checks
from harness.config import DeviceProfile, load_profile
from harness.requirements import load_catalog
from harness.results.verdicts import Verdict

ROOT = Path(__file__).resolve().parent.parent
SUITE = "testsuites/test_update_policy.py"
SUITE_TIMEOUT_S = 120
MODEL = "M1"

BASE: dict[str, Any] = {
    "name": "policy-under-test",
    "vendor": "Example",
    "model": MODEL,
    "firmware_version": "1.0",
    "console": {"qemu": {"reference_image": "hardened"}},
    "login": {"username": "admin", "password": "Not-In-Evidence-77"},
}

GOOD: dict[str, Any] = {
    "launch_date": "2026-01-15",
    "end_of_support_date": "2029-01-15",
    "update_policy": {
        "security_update_cadence_days": 30,
        "support_period_months": 36,
        "support_period_url": "https://maker.example/support",
        "security_bulletin_url": "https://maker.example/bulletins",
        "notification_channels": ["device", "website"],
        "replaceable": True,
        "rollout_order": [{"model": MODEL, "installed_base": 9000}, {"model": "M0", "installed_base": 100}],
        "release_history": [
            {"version": "1.0", "date": "2026-01-15"},
            {"version": "1.1", "date": "2026-02-12", "security_only": True, "labelled_security": True,
             "cves": ["CVE-2025-0001"], "operator_received": "2026-02-12", "operator_approved": "2026-02-16"},
            {"version": "1.2", "date": "2026-03-13", "security_only": True, "labelled_security": True,
             "cves": ["CVE-2025-0002"], "operator_received": "2026-03-13", "operator_approved": "2026-03-20"},
            {"version": "2.0", "date": "2026-03-20", "labelled_security": True, "cves": ["CVE-2025-0002"],
             "feature_changes": ["new dashboard"]},
        ],
    },
}  # fmt: skip

WEAK: dict[str, Any] = {
    "launch_date": "2026-01-15",
    "end_of_support_date": "2027-01-15",
    "features": {"software_update": False},
    "update_policy": {
        "security_update_cadence_days": 180,
        "support_period_months": 12,
        "support_period_url": "ask your dealer",
        "security_bulletin_url": "see the box",
        "notification_channels": [],
        "replaceable": False,
        "rollout_order": [{"model": "M0", "installed_base": 100}, {"model": MODEL, "installed_base": 9000}],
        "release_history": [
            {"version": "1.0", "date": "2026-01-15"},
            {"version": "1.1", "date": "2026-03-02", "security_only": True, "labelled_security": True,
             "feature_changes": ["new dashboard"], "operator_received": "2026-03-02",
             "operator_approved": "2026-03-30"},
            {"version": "2.0", "date": "2026-08-20", "labelled_security": False, "cves": ["CVE-2025-0003"],
             "feature_changes": ["remote API"]},
        ],
    },
}  # fmt: skip


def make_profile(overrides: dict[str, Any] | None = None, **policy: Any) -> DeviceProfile:
    """A profile from BASE plus top-level overrides, with update_policy keys replaced by `policy`."""
    data = copy.deepcopy(BASE) | copy.deepcopy(overrides or {})
    if policy:
        data["update_policy"] = {**data.get("update_policy", {}), **policy}
    return DeviceProfile.model_validate(data)


def good(**policy: Any) -> DeviceProfile:
    return make_profile(GOOD, **policy)


def release(version: str, date: str, **fields: Any) -> dict[str, Any]:
    return {"version": version, "date": date, **fields}


IDS = sorted(checks.BY_REQUIREMENT)


# --- every check, three ways ---------------------------------------------------------------------


def test_every_conceptual_fs25_id_has_a_check() -> None:
    functional_elsewhere = {"SSU-COM-0040", "SSU-TES-0020", "SSU-TES-0030"}
    fs25 = {rid for rid in load_catalog().ids() if rid.startswith("SSU-")}
    assert set(IDS) == fs25 - functional_elsewhere


@pytest.mark.parametrize("rid", IDS)
def test_good_evidence_passes(rid: str) -> None:
    result = checks.BY_REQUIREMENT[rid](make_profile(GOOD))
    assert result.verdict is Verdict.PASS, result.as_dict()
    assert result.details["requirement"] == rid and result.details["judged"]


@pytest.mark.parametrize("rid", IDS)
def test_weak_evidence_fails(rid: str) -> None:
    result = checks.BY_REQUIREMENT[rid](make_profile(WEAK))
    assert result.verdict is Verdict.FAIL, result.as_dict()


@pytest.mark.parametrize("rid", IDS)
def test_missing_evidence_is_inconclusive_naming_a_field(rid: str) -> None:
    result = checks.BY_REQUIREMENT[rid](make_profile())
    assert result.verdict is Verdict.INCONCLUSIVE, result.as_dict()
    assert all("not declared" in text or "shows no update" in text for text in result.missing), result.missing
    assert any("update_policy." in text or "_date" in text for text in result.missing)


def test_nothing_judged_is_never_pass() -> None:
    outcome = checks.Tally("SSU-SEC-0030").outcome()
    assert outcome.verdict is Verdict.INCONCLUSIVE and outcome.reason == "nothing was declared to judge"


# --- the findings name the numbers ---------------------------------------------------------------


def test_support_period_names_months_and_dates() -> None:
    result = checks.judge_support_period(make_profile(WEAK))
    assert (
        "support period 12 months from launch 2026-01-15 to end of support 2027-01-15, below 36"
        in result.reason
    )
    short = checks.judge_support_period(make_profile(GOOD | {"end_of_support_date": "2029-01-14"}))
    assert "35 months" in short.reason and short.verdict is Verdict.FAIL


def test_support_period_from_the_declared_months_alone() -> None:
    only_months = {k: v for k, v in GOOD.items() if k not in ("launch_date", "end_of_support_date")}
    assert checks.judge_support_period(make_profile(only_months)).verdict is Verdict.PASS
    none = make_profile({"launch_date": "2026-01-15", "update_policy": {}})
    assert list(checks.judge_support_period(none).missing) == [
        "end_of_support_date is not declared",
        "update_policy.support_period_months is not declared",
    ]


def test_cadence_gap_tolerance_boundary() -> None:
    history = [
        release("1.0", "2026-01-15"),
        release("1.1", "2026-02-21", security_only=True, cves=["CVE-2025-1001"]),
    ]
    assert checks.judge_update_cadence(good(release_history=history)).verdict is Verdict.PASS  # 37 days
    history[1]["date"] = "2026-02-22"
    result = checks.judge_update_cadence(good(release_history=history))
    assert "38 days between launch 2026-01-15 and security release 1.1 (2026-02-22)" in result.reason
    assert "30-day cadence plus 7 days" in result.reason


def test_cadence_longer_than_monthly_fails_and_names_it() -> None:
    result = checks.judge_update_cadence(make_profile(WEAK))
    assert "declared security update cadence 180 days, longer than monthly (31 days)" in result.findings
    assert any(text.startswith("171 days between") for text in result.findings)


def test_cadence_undeclared_is_inconclusive_even_with_a_good_history() -> None:
    result = checks.judge_update_cadence(good(security_update_cadence_days=None))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert list(result.missing) == ["update_policy.security_update_cadence_days is not declared"]


def test_cadence_with_no_security_release_is_inconclusive() -> None:
    result = checks.judge_update_cadence(good(release_history=[release("1.0", "2026-01-15")]))
    assert result.verdict is Verdict.INCONCLUSIVE and "lists no security release" in result.reason


def test_replacement_names_the_end_of_support() -> None:
    assert "(support until 2027-01-15)" in checks.judge_replacement(make_profile(WEAK)).reason


def test_rollout_order_names_the_inverted_models() -> None:
    result = checks.judge_rollout_order(make_profile(WEAK))
    assert list(result.findings) == ["'M1' (9000 in use) gets security updates after 'M0' (100 in use)"]
    single = good(rollout_order=[{"model": MODEL, "installed_base": 5}])
    assert checks.judge_rollout_order(single).verdict is Verdict.PASS
    other = good(rollout_order=[{"model": "M9", "installed_base": 5}])
    assert "does not list this device's model 'M1'" in checks.judge_rollout_order(other).reason


def test_security_only_release_needs_cves_and_no_features() -> None:
    reason = checks.judge_security_only_releases(make_profile(WEAK)).reason
    assert "release 1.1 (2026-03-02) is flagged security-only but lists no CVE" in reason
    assert "carries feature changes: new dashboard" in reason
    assert "CVE-2025-0003 fixed only in release 2.0 (2026-08-20), which is not security-only" in reason


def test_a_cve_also_shipped_security_only_may_ride_in_a_feature_release() -> None:
    # GOOD's 2.0 bundles CVE-2025-0002 with features, but 1.2 shipped it alone first.
    assert checks.judge_security_only_releases(make_profile(GOOD)).verdict is Verdict.PASS


def test_operator_testing_boundary_and_numbers() -> None:
    def history(approved: str) -> list[dict[str, Any]]:
        return [release("1.1", "2026-02-01", security_only=True, cves=["CVE-2025-1001"],
                        operator_received="2026-02-01", operator_approved=approved)]  # fmt: skip

    assert checks.judge_operator_testing(good(release_history=history("2026-02-08"))).verdict is Verdict.PASS
    result = checks.judge_operator_testing(good(release_history=history("2026-02-09")))
    assert list(result.findings) == [
        "operator testing of security-only release 1.1 (2026-02-01) took 8 days "
        "(received 2026-02-01, approved 2026-02-09), more than 7"
    ]
    assert "took 28 days" in checks.judge_operator_testing(make_profile(WEAK)).reason


def test_operator_approval_missing_names_the_release_field() -> None:
    history = [
        release(
            "1.1", "2026-02-01", security_only=True, cves=["CVE-2025-1001"], operator_received="2026-02-01"
        )
    ]
    result = checks.judge_operator_testing(good(release_history=history))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert list(result.missing) == [
        "update_policy.release_history[0].operator_approved is not declared (release 1.1 (2026-02-01))"
    ]


def test_notification_channels_absent_is_not_empty() -> None:
    assert checks.judge_notification_channels(make_profile(WEAK)).verdict is Verdict.FAIL
    policy = {k: v for k, v in GOOD["update_policy"].items() if k != "notification_channels"}
    absent = make_profile(GOOD | {"update_policy": policy})
    assert list(checks.judge_notification_channels(absent).missing) == [
        "update_policy.notification_channels is not declared"
    ]


def test_labelling_names_the_unlabelled_release_and_the_missing_field() -> None:
    assert list(checks.judge_security_labelling(make_profile(WEAK)).findings) == [
        "release 2.0 (2026-08-20) fixes CVE-2025-0003 but is not labelled a security update"
    ]
    history = [release("1.1", "2026-02-01", security_only=True, cves=["CVE-2025-1001"])]
    result = checks.judge_security_labelling(good(release_history=history))
    assert list(result.missing) == [
        "update_policy.release_history[0].labelled_security is not declared (release 1.1 (2026-02-01))"
    ]


def test_content_information() -> None:
    reason = checks.judge_content_information(make_profile(WEAK)).reason
    assert "security_bulletin_url 'see the box' is not a web address" in reason
    assert "release 1.1 (2026-03-02) publishes nothing about what it fixes" in reason
    result = checks.judge_content_information(good(security_bulletin_url=None))
    assert list(result.missing) == ["update_policy.security_bulletin_url is not declared"]


def test_support_period_publication() -> None:
    assert checks.judge_support_period_published(good(support_period_url="ftp://maker.example/x")).findings
    result = checks.judge_support_period_published(good(support_period_url=None))
    assert list(result.missing) == ["update_policy.support_period_url is not declared"]


def test_en303645_5_3_items() -> None:
    weak = checks.judge_en303645_5_3(make_profile(WEAK))
    assert "5.3-1: features.software_update is false" in weak.reason
    assert "5.3-13: update_policy.support_period_url 'ask your dealer'" in weak.reason
    declared = checks.judge_en303645_5_3(make_profile(GOOD | {"features": {"software_update": True}}))
    assert declared.verdict is Verdict.PASS
    assert checks.EN303645_5_3_JUDGED == ("EN303645-5.3-1", "EN303645-5.3-13")


def test_declared_evidence_has_no_password() -> None:
    text = json.dumps(checks.declared_evidence(make_profile(GOOD)), default=str)
    assert BASE["login"]["password"] not in text and "login" not in text
    assert "release_history" in text and "2029-01-15" in text


# --- the reference profiles, and the suite end to end --------------------------------------------


@pytest.mark.parametrize("rid", IDS)
def test_reference_profiles(rid: str) -> None:
    hardened = load_profile(ROOT / "device_profiles/qemu-reference-hardened.yaml")
    vulnerable = load_profile(ROOT / "device_profiles/qemu-reference-vulnerable.yaml")
    assert checks.BY_REQUIREMENT[rid](hardened).verdict is Verdict.PASS
    assert checks.BY_REQUIREMENT[rid](vulnerable).verdict is Verdict.FAIL


def _run_suite(variant: str, report: Path) -> dict[str, Any]:
    cmd = [
        sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q",
        "--device-profile", f"device_profiles/qemu-reference-{variant}.yaml", "--report-dir", str(report),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S)
    results = report / "results.json"
    assert results.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(results.read_text())


def test_suite_passes_hardened_and_fails_vulnerable(tmp_path: Path) -> None:
    hardened = _run_suite("hardened", tmp_path / "hardened")
    vulnerable = _run_suite("vulnerable", tmp_path / "vulnerable")
    catalog = load_catalog()
    for data, expected in ((hardened, "PASS"), (vulnerable, "FAIL")):
        tests = [t for t in data["tests"] if SUITE in t["nodeid"]]
        assert len(tests) == len(IDS)
        assert {t["verdict"] for t in tests} == {expected}, [(t["nodeid"], t["reason"]) for t in tests]
        assert all(t.get("kind") == "conceptual" for t in tests)
        assert all(any(p.endswith("declared-evidence.json") for p in t["evidence"]) for t in tests)
        for test in tests:  # each test cites only cross references the catalog gives its requirement
            (rid,) = test["requirements"]
            cited = {
                ref for ref in test["crossrefs"] if not ref.startswith("TS103701-")
            }  # units: the test's own
            assert cited <= set(catalog[rid].crossref_ids), test
        verdicts = {r["id"]: r["verdict"] for r in data["requirements"]}
        assert all(verdicts[rid] == expected for rid in IDS), verdicts
    reasons = {t["nodeid"].split("::")[-1]: t["reason"] for t in vulnerable["tests"]}
    assert (
        "support period 12 months from launch 2026-01-15"
        in reasons["test_security_updates_for_36_months_from_launch"]
    )
    assert "took 28 days" in reasons["test_operator_testing_within_one_week"]
