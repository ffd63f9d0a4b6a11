"""FS.25 update policy: conceptual assessments of what the manufacturer declares in the profile.

These tests judge declarations (support dates, release history, operator approval dates,
notification channels), not the running device, so they never boot it. The decisions are in
harness.checks.update_policy; each test writes the declarations it judged to its evidence folder.
Device-visible parts of FS.25 (SSU-COM-0040, SSU-TES-0020, SSU-TES-0030) are functional tests
elsewhere.
"""

from __future__ import annotations

import pytest

from harness.checks import update_policy as checks
from harness.plugin.conclusions import conclude
from harness.results.outcome import Outcome

pytestmark = pytest.mark.conceptual


def _conclude(outcome: Outcome, profile, evidence) -> None:
    """Record the evidence, then end as the check decided."""
    evidence.write_json(
        "declared-evidence.json",
        {"declared": checks.declared_evidence(profile), "assessment": outcome.as_dict()},
    )
    conclude(outcome)


@pytest.mark.requirement("SSU-SEC-0030", "EN303645-5.3-13", "EN18031-GEC-1", "CLP13_8.10")
def test_security_updates_for_36_months_from_launch(profile, evidence):
    """end_of_support_date - launch_date, and the declared support period, are at least 36 months."""
    _conclude(checks.judge_support_period(profile), profile, evidence)


@pytest.mark.requirement("SSU-SEC-0020", "EN303645-5.3-8", "EN18031-GEC-1", "CLP13_7.5")
def test_regular_security_update_cadence(profile, evidence):
    """The declared cadence is at most monthly and the release history keeps it."""
    _conclude(checks.judge_update_cadence(profile), profile, evidence)


@pytest.mark.requirement("SSU-SEC-0040", "EN303645-5.3-14", "EN303645-5.3-15", "CLP13_8.10")
@pytest.mark.requirement("TS103701-5.3-14-2a", "TS103701-5.3-14-2b")
def test_device_replaceable_when_updates_end(profile, evidence):
    """The maker declares the device replaceable when its security updates end."""
    _conclude(checks.judge_replacement(profile), profile, evidence)


@pytest.mark.requirement("SSU-SEC-0021", "EN303645-5.3-8", "EN18031-GEC-1")
def test_rollout_prioritises_popular_models(profile, evidence):
    """The declared rollout order puts models with a larger installed base first."""
    _conclude(checks.judge_rollout_order(profile), profile, evidence)


@pytest.mark.requirement("SSU-SEC-0010", "EN303645-5.3-8", "EN303645-5.3-11", "EN18031-GEC-1", "CLP13_7.5")
def test_security_only_updates_list_cves_and_no_features(profile, evidence):
    """Security-only releases list their CVEs and carry no features; no CVE ships only with features."""
    _conclude(checks.judge_security_only_releases(profile), profile, evidence)


@pytest.mark.requirement("SSU-TES-0010", "EN303645-5.3-8")
def test_operator_testing_within_one_week(profile, evidence):
    """Each security-only release was approved by the operator within 7 days of receipt."""
    _conclude(checks.judge_operator_testing(profile), profile, evidence)


@pytest.mark.requirement("SSU-COM-0010", "EN303645-5.3-11")
def test_users_notified_of_security_updates(profile, evidence):
    """The maker declares at least one channel that tells users a security update is available."""
    _conclude(checks.judge_notification_channels(profile), profile, evidence)


@pytest.mark.requirement("SSU-COM-0020", "EN303645-5.3-11")
def test_security_updates_labelled_as_such(profile, evidence):
    """Every release carrying security fixes is labelled a security update."""
    _conclude(checks.judge_security_labelling(profile), profile, evidence)


@pytest.mark.requirement("SSU-COM-0030", "EN303645-5.3-11")
def test_security_update_contents_published(profile, evidence):
    """Update contents are published at a web address and each security release says what it fixes."""
    _conclude(checks.judge_content_information(profile), profile, evidence)


@pytest.mark.requirement("SSU-COM-0050", "EN303645-5.3-13")
@pytest.mark.requirement("TS103701-5.3-13-2a", "TS103701-5.3-13-2b")
def test_support_period_discoverable(profile, evidence):
    """A support period is defined and published at a web address users can open."""
    _conclude(checks.judge_support_period_published(profile), profile, evidence)


@pytest.mark.requirement("SSU-SEC-0001", *checks.EN303645_5_3_JUDGED)
def test_en303645_5_3_declared_provisions(profile, evidence):
    """EN 303 645 5.3-1 and 5.3-13, as far as declared evidence settles them."""
    _conclude(checks.judge_en303645_5_3(profile), profile, evidence)
