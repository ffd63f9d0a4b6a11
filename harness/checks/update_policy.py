"""FS.25 update policy, judged from what the manufacturer declares (a conceptual assessment).

No device test can show a support period, a release cadence or how long an operator took to
approve an update; ETSI TS 103 701 calls judging such claims from the IXIT a conceptual
assessment. Here the device profile is the IXIT: each `judge_*` function takes the profile and
returns an `Outcome`. A FAIL names the declared numbers; evidence that is not declared makes the
assessment INCONCLUSIVE naming the profile field, never PASS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from harness.config.profile import DeviceProfile, Release
from harness.results.outcome import Outcome

MINIMUM_SUPPORT_MONTHS = 36  # SSU-SEC-0030
MONTHLY_CADENCE_DAYS = 31  # SSU-SEC-0020's "regular, e.g. monthly": the longest month
CADENCE_TOLERANCE_DAYS = 7  # a release may slip by a week without breaking the cadence
OPERATOR_TESTING_DAYS = 7  # SSU-TES-0010: operator testing within one week

# The EN 303 645 V2.1.1 section 5.3 provisions that declared evidence can settle (SSU-SEC-0001).
# The others need the device (5.3-2, 5.3-7, 5.3-9, 5.3-10: the signed-update tests) or a user
# interface (5.3-3 .. 5.3-6, 5.3-12), or are judged under their own FS.25 IDs (5.3-8, 5.3-11, 5.3-14).
EN303645_5_3_JUDGED = ("EN303645-5.3-1", "EN303645-5.3-13")


@dataclass
class Tally:
    """What a check has found so far while it walks the evidence: failures, evidence it lacked,
    and what it judged sound. Not a verdict: `outcome()` concludes it."""

    requirement: str
    findings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    judged: list[str] = field(default_factory=list)

    def outcome(self, nothing_judged: str = "nothing was declared to judge") -> Outcome:
        """FAIL on any finding; otherwise PASS only if something was judged and nothing is missing.
        The reason is the findings, else the missing evidence, else what was judged; the details
        name the requirement and what was judged sound."""
        return Outcome.from_findings(
            self.findings,
            missing=self.missing,
            passed="; ".join(self.judged),
            judged=bool(self.judged),
            nothing_judged=nothing_judged,
            details={"requirement": self.requirement, "judged": list(self.judged)},
        )


# --- helpers ------------------------------------------------------------------------------------


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from start to end (2026-01-15 -> 2029-01-15 is 36)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    return months - 1 if end.day < start.day else months


def is_web_address(text: str) -> bool:
    """An http(s) URL with a host: something a user can open, not 'ask your dealer'."""
    parsed = urlparse(text.strip())
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def label(release: Release) -> str:
    return f"release {release.version} ({release.date})"


def fixes_security(release: Release) -> bool:
    """A release that carries security fixes: flagged security-only or listing CVEs."""
    return release.security_only or bool(release.cves)


def _history_field(index: int, name: str) -> str:
    return f"update_policy.release_history[{index}].{name}"


def _security_releases(profile: DeviceProfile, result: Tally) -> list[tuple[int, Release]]:
    """The releases carrying security fixes, with their index; records what is missing if none."""
    history = profile.update_policy.release_history
    if not history:
        result.missing.append("update_policy.release_history is not declared")
        return []
    releases = [(i, r) for i, r in enumerate(history) if fixes_security(r)]
    if not releases:
        result.missing.append(
            "update_policy.release_history lists no security release (none is security_only or lists CVEs)"
        )
    return releases


def _support_period_text(profile: DeviceProfile) -> str | None:
    if profile.end_of_support_date is not None:
        return f"until {profile.end_of_support_date}"
    months = profile.update_policy.support_period_months
    return f"{months} months from launch" if months is not None else None


# --- SSU-SEC-0030 -------------------------------------------------------------------------------


def judge_support_period(profile: DeviceProfile, minimum_months: int = MINIMUM_SUPPORT_MONTHS) -> Outcome:
    """SSU-SEC-0030: security updates for at least 36 months from launch.

    Judged from launch_date .. end_of_support_date when both are declared, and from
    update_policy.support_period_months when declared; either one below the minimum is a FAIL.
    """
    result = Tally("SSU-SEC-0030")
    launch, end = profile.launch_date, profile.end_of_support_date
    declared_months = profile.update_policy.support_period_months
    if launch is not None and end is not None:
        months = months_between(launch, end)
        text = f"support period {months} months from launch {launch} to end of support {end}"
        if months < minimum_months:
            result.findings.append(f"{text}, below {minimum_months}")
        else:
            result.judged.append(f"{text}, at least {minimum_months}")
    if declared_months is not None:
        text = f"declared support period (update_policy.support_period_months) {declared_months} months"
        if declared_months < minimum_months:
            result.findings.append(f"{text}, below {minimum_months}")
        else:
            result.judged.append(f"{text}, at least {minimum_months}")
    if not result.findings and not result.judged:
        for name, value in (("launch_date", launch), ("end_of_support_date", end)):
            if value is None:
                result.missing.append(f"{name} is not declared")
        result.missing.append("update_policy.support_period_months is not declared")
    return result.outcome()


# --- SSU-SEC-0020 -------------------------------------------------------------------------------


def judge_update_cadence(
    profile: DeviceProfile,
    monthly_days: int = MONTHLY_CADENCE_DAYS,
    tolerance_days: int = CADENCE_TOLERANCE_DAYS,
) -> Outcome:
    """SSU-SEC-0020: a regular security update cadence, such as monthly.

    The declared cadence must be at most monthly, and the release history must keep it: every gap
    from launch to the first security release and between security releases is at most the
    declared cadence (or monthly, if the declaration is missing or longer) plus a tolerance.
    The gap after the last declared release is not judged: it would depend on the day of the run.
    """
    result = Tally("SSU-SEC-0020")
    policy = profile.update_policy
    limit = monthly_days
    cadence = policy.security_update_cadence_days
    if cadence is None:
        result.missing.append("update_policy.security_update_cadence_days is not declared")
    elif cadence > monthly_days:
        result.findings.append(
            f"declared security update cadence {cadence} days, longer than monthly ({monthly_days} days)"
        )
    else:
        limit = cadence
        result.judged.append(f"declared security update cadence {cadence} days, at most monthly")
    releases = sorted((r for _, r in _security_releases(profile, result)), key=lambda r: r.date)
    if not releases:
        return result.outcome()
    if profile.launch_date is not None:
        start, start_text = profile.launch_date, f"launch {profile.launch_date}"
    else:
        first = min(policy.release_history, key=lambda r: r.date)
        start, start_text = first.date, label(first)
    allowed = limit + tolerance_days
    gaps = []
    previous, previous_text = start, start_text
    for release in releases:
        gap = (release.date - previous).days
        gaps.append(gap)
        if gap > allowed:
            result.findings.append(
                f"{gap} days between {previous_text} and security {label(release)}, longer than the "
                f"{limit}-day cadence plus {tolerance_days} days"
            )
        previous, previous_text = release.date, f"security {label(release)}"
    if max(gaps) <= allowed:
        result.judged.append(
            f"{len(releases)} security releases since {start_text}, longest gap {max(gaps)} days "
            f"(at most {limit} + {tolerance_days})"
        )
    return result.outcome()


# --- SSU-SEC-0040 -------------------------------------------------------------------------------


def judge_replacement(profile: DeviceProfile) -> Outcome:
    """SSU-SEC-0040: the device can be replaced where its security updates end.

    Every device's updates end at its end of support, so the declaration must say it is replaceable.
    """
    result = Tally("SSU-SEC-0040")
    replaceable = profile.update_policy.replaceable
    period = _support_period_text(profile)
    when = f" (support {period})" if period else ""
    if replaceable is None:
        result.missing.append("update_policy.replaceable is not declared")
    elif not replaceable:
        result.findings.append(
            f"update_policy.replaceable is false: no replacement when security updates end{when}"
        )
    else:
        result.judged.append(f"the device is declared replaceable when security updates end{when}")
    return result.outcome()


# --- SSU-SEC-0021 -------------------------------------------------------------------------------


def judge_rollout_order(profile: DeviceProfile) -> Outcome:
    """SSU-SEC-0021: security updates reach the most widely used models first.

    The declared rollout order must not put a model with a larger installed base after one with
    a smaller base, and it must include this device's model.
    """
    result = Tally("SSU-SEC-0021")
    order = profile.update_policy.rollout_order
    if not order:
        result.missing.append("update_policy.rollout_order is not declared")
        return result.outcome()
    for earlier, later in zip(order, order[1:], strict=False):
        if later.installed_base > earlier.installed_base:
            result.findings.append(
                f"{later.model!r} ({later.installed_base} in use) gets security updates after "
                f"{earlier.model!r} ({earlier.installed_base} in use)"
            )
    if profile.model not in [step.model for step in order]:
        result.missing.append(
            f"update_policy.rollout_order does not list this device's model {profile.model!r}"
        )
    if not result.findings:
        result.judged.append(
            "rollout order by installed base: "
            + ", ".join(f"{step.model} ({step.installed_base})" for step in order)
        )
    return result.outcome()


# --- SSU-SEC-0010 -------------------------------------------------------------------------------


def judge_security_only_releases(profile: DeviceProfile) -> Outcome:
    """SSU-SEC-0010: security updates carry only security fixes, identified by CVE.

    A release flagged security-only must list the CVEs it fixes and no feature changes, and each
    CVE the history fixes must have been shipped in a security-only release, not only bundled
    with feature changes.
    """
    result = Tally("SSU-SEC-0010")
    releases = _security_releases(profile, result)
    security_only_cves: set[str] = set()
    for _, release in releases:
        if not release.security_only:
            continue
        security_only_cves.update(release.cves)
        if not release.cves:
            result.findings.append(f"{label(release)} is flagged security-only but lists no CVE")
        if release.feature_changes:
            result.findings.append(
                f"{label(release)} is flagged security-only but carries feature changes: "
                + ", ".join(release.feature_changes)
            )
        if release.cves and not release.feature_changes:
            result.judged.append(f"{label(release)}: security-only, fixes " + ", ".join(release.cves))
    for _, release in releases:
        if release.security_only:
            continue
        bundled = [cve for cve in release.cves if cve not in security_only_cves]
        if bundled:
            result.findings.append(
                f"{', '.join(bundled)} fixed only in {label(release)}, which is not security-only"
                + (
                    f" (feature changes: {', '.join(release.feature_changes)})"
                    if release.feature_changes
                    else ""
                )
            )
    return result.outcome()


# --- SSU-TES-0010 -------------------------------------------------------------------------------


def judge_operator_testing(profile: DeviceProfile, maximum_days: int = OPERATOR_TESTING_DAYS) -> Outcome:
    """SSU-TES-0010: the operator finishes testing a security-only update within one week.

    Judged per security-only release from operator_received to operator_approved.
    """
    result = Tally("SSU-TES-0010")
    history = profile.update_policy.release_history
    if not history:
        result.missing.append("update_policy.release_history is not declared")
        return result.outcome()
    security_only = [(i, r) for i, r in enumerate(history) if r.security_only]
    if not security_only:
        result.missing.append("update_policy.release_history lists no security-only release")
    for index, release in security_only:
        received, approved = release.operator_received, release.operator_approved
        if received is None or approved is None:
            absent = [
                n for n, v in (("operator_received", received), ("operator_approved", approved)) if v is None
            ]
            result.missing.append(
                " and ".join(_history_field(index, n) for n in absent)
                + f" {'is' if len(absent) == 1 else 'are'} not declared ({label(release)})"
            )
            continue
        days = (approved - received).days
        text = (
            f"operator testing of security-only {label(release)} took {days} days "
            f"(received {received}, approved {approved})"
        )
        if days > maximum_days:
            result.findings.append(f"{text}, more than {maximum_days}")
        else:
            result.judged.append(f"{text}, within {maximum_days}")
    return result.outcome()


# --- SSU-COM-0010 / 0020 / 0030 / 0050 ------------------------------------------------------------


def judge_notification_channels(profile: DeviceProfile) -> Outcome:
    """SSU-COM-0010: users are told of security updates through a declared channel.

    An explicitly empty list is a FAIL (the maker declares it tells nobody); an absent key is
    undeclared evidence.
    """
    result = Tally("SSU-COM-0010")
    policy = profile.update_policy
    if "notification_channels" not in policy.model_fields_set:
        result.missing.append("update_policy.notification_channels is not declared")
    elif not policy.notification_channels:
        result.findings.append(
            "update_policy.notification_channels is empty: "
            "users are told of security updates through no channel"
        )
    else:
        channels = ", ".join(policy.notification_channels)
        preferred = (
            "" if "device" in policy.notification_channels else " (the device itself, preferred, is not one)"
        )
        result.judged.append(f"users are notified of security updates through: {channels}{preferred}")
    return result.outcome()


def judge_security_labelling(profile: DeviceProfile) -> Outcome:
    """SSU-COM-0020: every release carrying security fixes is labelled a security update."""
    result = Tally("SSU-COM-0020")
    for index, release in _security_releases(profile, result):
        what = "fixes " + ", ".join(release.cves) if release.cves else "is security-only"
        if release.labelled_security is None:
            result.missing.append(
                f"{_history_field(index, 'labelled_security')} is not declared ({label(release)})"
            )
        elif not release.labelled_security:
            result.findings.append(f"{label(release)} {what} but is not labelled a security update")
        else:
            result.judged.append(f"{label(release)} {what} and is labelled a security update")
    return result.outcome()


def judge_content_information(profile: DeviceProfile) -> Outcome:
    """SSU-COM-0030: users can learn what a security update contains.

    The maker publishes update contents at a web address (security_bulletin_url), and every
    release carrying security fixes says what it fixes (CVEs or notes).
    """
    result = Tally("SSU-COM-0030")
    url = profile.update_policy.security_bulletin_url
    if url is None:
        result.missing.append("update_policy.security_bulletin_url is not declared")
    elif not is_web_address(url):
        result.findings.append(
            f"update_policy.security_bulletin_url {url!r} is not a web address users can open"
        )
    else:
        result.judged.append(f"security update contents are published at {url}")
    for _, release in _security_releases(profile, result):
        if not release.cves and not release.notes.strip():
            result.findings.append(
                f"{label(release)} publishes nothing about what it fixes: no CVE and no notes"
            )
    return result.outcome()


def judge_support_period_published(profile: DeviceProfile) -> Outcome:
    """SSU-COM-0050: users can find the minimum period the device gets updates.

    A support period must be defined (end_of_support_date or support_period_months) and
    published at a web address users can open (support_period_url).
    """
    result = Tally("SSU-COM-0050")
    period = _support_period_text(profile)
    if period is None:
        result.missing.append(
            "end_of_support_date is not declared; update_policy.support_period_months is not declared"
        )
    url = profile.update_policy.support_period_url
    if url is None:
        result.missing.append("update_policy.support_period_url is not declared")
    elif not is_web_address(url):
        result.findings.append(
            f"update_policy.support_period_url {url!r} is not a web address users can open"
        )
    elif period is not None:
        result.judged.append(f"support period ({period}) published at {url}")
    return result.outcome()


# --- SSU-SEC-0001 -------------------------------------------------------------------------------


def judge_en303645_5_3(profile: DeviceProfile) -> Outcome:
    """SSU-SEC-0001: the EN 303 645 5.3 provisions declared evidence can settle (EN303645_5_3_JUDGED).

    5.3-1 (software is updateable): features.software_update, or else releases after launch in
    the release history. 5.3-13 (the defined support period is published): as SSU-COM-0050.
    """
    result = Tally("SSU-SEC-0001")
    updateable = profile.features.has("software_update")
    history = profile.update_policy.release_history
    start = profile.launch_date or (min(r.date for r in history) if history else None)
    updates = [r for r in history if start is not None and r.date > start]
    if updateable is False:
        result.findings.append(
            "5.3-1: features.software_update is false: the device's software cannot be updated"
        )
    elif updateable:
        result.judged.append("5.3-1: features.software_update declares the device's software updateable")
    elif updates:
        result.judged.append(f"5.3-1: the release history shows {len(updates)} update(s) after {start}")
    else:
        result.missing.append(
            "5.3-1: features.software_update is not declared and update_policy.release_history "
            "shows no update after launch"
        )
    published = judge_support_period_published(profile)
    result.findings += [f"5.3-13: {text}" for text in published.findings]
    result.missing += [f"5.3-13: {text}" for text in published.missing]
    result.judged += [f"5.3-13: {text}" for text in published.details["judged"]]
    return result.outcome()


BY_REQUIREMENT: dict[str, Callable[[DeviceProfile], Outcome]] = {
    "SSU-SEC-0001": judge_en303645_5_3,
    "SSU-SEC-0010": judge_security_only_releases,
    "SSU-SEC-0020": judge_update_cadence,
    "SSU-SEC-0021": judge_rollout_order,
    "SSU-SEC-0030": judge_support_period,
    "SSU-SEC-0040": judge_replacement,
    "SSU-COM-0010": judge_notification_channels,
    "SSU-COM-0020": judge_security_labelling,
    "SSU-COM-0030": judge_content_information,
    "SSU-COM-0050": judge_support_period_published,
    "SSU-TES-0010": judge_operator_testing,
}


def declared_evidence(profile: DeviceProfile) -> dict[str, Any]:
    """The declarations these checks judge, for the evidence folder (no login, no secrets)."""
    summary = profile.summary()
    picked = {key: summary[key] for key in ("name", "vendor", "model", "firmware_version") if key in summary}
    for key in ("launch_date", "end_of_support_date", "update_policy"):
        picked[key] = summary.get(key)
    picked["features.software_update"] = summary.get("features", {}).get("software_update")
    return picked
