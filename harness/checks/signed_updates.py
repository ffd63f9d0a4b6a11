"""FS38-03 / SSU-SEC-0010 decisions: was a delivered package handled safely, is a manifest clean.

Pure functions over what a delivery showed (`DeliveryOutcome`) and over a declared update
manifest, so each verdict can be unit-tested both ways without a device. A finding is a sentence
naming what was seen; no findings means the device behaved as a secure one must.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.observations.update_delivery import DeliveryOutcome
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


def assess_rejection(outcome: DeliveryOutcome, what_is_wrong: str) -> list[str]:
    """Findings for a package a secure device must refuse (empty: refused, unchanged, logged)."""
    package = f"the {outcome.kind} package {outcome.filename} ({what_is_wrong})"
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


def assess_installation(outcome: DeliveryOutcome) -> list[str]:
    """Findings for the valid, newer, correctly signed package (empty: installed and reported)."""
    package = f"the valid package {outcome.filename} (version {outcome.offered_version})"
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


@dataclass
class ManifestAssessment:
    """SSU-SEC-0010 on one manifest: findings (FAIL), what was judged sound, or not applicable."""

    findings: list[str] = field(default_factory=list)
    judged: list[str] = field(default_factory=list)
    not_applicable: str | None = None


def assess_manifest(manifest: UpdateManifest, source: str = "the update manifest") -> ManifestAssessment:
    """A security update must name the CVEs it fixes and carry no feature changes (SSU-SEC-0010)."""
    result = ManifestAssessment()
    cves = manifest.fixed_cves
    label = f"{source} (version {manifest.version})"
    if not manifest.security_only and not cves:
        result.not_applicable = f"{label} is a feature release that fixes no vulnerability"
        return result
    if manifest.feature_changes:
        kind = "a security-only update" if manifest.security_only else "an update fixing " + ", ".join(cves)
        result.findings.append(
            f"{label} is {kind} but also carries feature changes: {'; '.join(manifest.feature_changes)}"
        )
    if not cves:
        result.findings.append(f"{label} is declared security-only but lists no CVE it fixes")
    if not result.findings:
        result.judged.append(f"{label} fixes {', '.join(cves)} and carries no feature changes")
    return result
