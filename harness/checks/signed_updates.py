"""FS38-03 / SSU-SEC-0010 decisions: was a delivered package handled safely, is a manifest clean.

Pure functions over what a delivery showed (`DeliveryOutcome`) and over a declared update
manifest, so each verdict can be unit-tested both ways without a device. A finding is a sentence
naming what was seen; no findings means the device behaved as a secure one must.
"""

from __future__ import annotations

from harness.observations.update_delivery import DeliveryOutcome
from harness.results.outcome import Outcome
from harness.updates.manifest import UpdateManifest

REJECTION_WORDS = ("reject", "refus", "fail", "denied", "invalid")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def rejection_logged(outcome: DeliveryOutcome) -> bool:
    """A syslog line names the package and says it was rejected."""
    return any(
        any(word in line.lower() for word in REJECTION_WORDS) and outcome.filename in line
        for line in outcome.log_lines
    )


def judge_rejection(outcome: DeliveryOutcome, what_is_wrong: str) -> Outcome:
    """A package a secure device must refuse: PASS when refused, the version unchanged and the
    rejection logged; FAIL naming each thing that went otherwise."""
    package = f"the {outcome.kind} package {outcome.filename} ({what_is_wrong})"
    return Outcome.from_findings(
        _rejection_findings(outcome, package),
        passed=f"the device refused {package}, kept version {outcome.version_before} and logged the rejection",
    )


def _rejection_findings(outcome: DeliveryOutcome, package: str) -> list[str]:
    if not outcome.answered:
        return [f"the device stopped answering after {package} was delivered"]
    findings = []
    if outcome.version_after != outcome.version_before:
        findings.append(
            f"{package} was installed: the running version changed from {outcome.version_before} "
            f"to {outcome.version_after}"
        )
    if outcome.exit_status == 0:
        findings.append(f"the update agent reported success (exit status 0) for {package}")
    if not rejection_logged(outcome):
        seen = f"; log lines naming it: {outcome.log_lines}" if outcome.log_lines else ""
        findings.append(f"no syslog line records the rejection of {package}{seen}")
    if outcome.rebooted and outcome.version_after_reboot == outcome.offered_version:
        findings.append(
            f"after a power cycle the device runs version {outcome.offered_version} from {package}"
        )
    return findings


def judge_installation(outcome: DeliveryOutcome) -> Outcome:
    """The valid, newer, correctly signed package: PASS when installed and reported as the new
    version; FAIL naming what went otherwise."""
    package = f"the valid package {outcome.filename} (version {outcome.offered_version})"
    return Outcome.from_findings(
        _installation_findings(outcome, package),
        passed=f"the device installed {package} and reports version {outcome.version_after}",
    )


def _installation_findings(outcome: DeliveryOutcome, package: str) -> list[str]:
    if not outcome.answered:
        return [f"the device stopped answering after {package} was delivered"]
    findings = []
    if outcome.exit_status != 0:
        findings.append(
            f"the update agent refused {package} (exit status {outcome.exit_status}: "
            f"{_last_line(outcome.agent_output)})"
        )
    if outcome.version_after != outcome.offered_version:
        findings.append(
            f"after installing {package} the device reports version {outcome.version_after} "
            f"(was {outcome.version_before})"
        )
    return findings


def judge_manifest(manifest: UpdateManifest, source: str = "the update manifest") -> Outcome:
    """A security update must name the CVEs it fixes and carry no feature changes (SSU-SEC-0010).
    NOT_APPLICABLE for a feature release that fixes nothing. The details say what was judged sound
    (`judged`) and why the requirement does not apply (`not_applicable`, or None)."""
    cves = manifest.fixed_cves
    label = f"{source} (version {manifest.version})"
    if not manifest.security_only and not cves:
        why = f"{label} is a feature release that fixes no vulnerability"
        return Outcome.not_applicable(why, details={"judged": [], "not_applicable": why})
    findings = []
    if manifest.feature_changes:
        kind = "a security-only update" if manifest.security_only else "an update fixing " + ", ".join(cves)
        findings.append(
            f"{label} is {kind} but also carries feature changes: {'; '.join(manifest.feature_changes)}"
        )
    if not cves:
        findings.append(f"{label} is declared security-only but lists no CVE it fixes")
    if findings:
        return Outcome.failed(findings, details={"judged": [], "not_applicable": None})
    judged = f"{label} fixes {', '.join(cves)} and carries no feature changes"
    return Outcome.passed(judged, details={"judged": [judged], "not_applicable": None})
