"""FS38-03 signed updates: the device installs only authentic, intact, newer update packages.

The harness crafts each package itself (harness.updates.crafting): a valid one signed with the
manufacturer's code-signing key, and one per defect: unsigned, signed by an untrusted chain,
payload changed after signing, truncated, and an older version (rollback). Each is published on
the lab's HTTP update server, the device's agent is told to install it, and the test reads the
running version before and after, the agent's exit status and the device's syslog. A rejected
package must leave the version unchanged, be logged, and leave the device answering (the
truncated one is also followed by a power cycle). SSU-SEC-0010 is judged on the update manifest
the profile declares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from harness.capabilities import Power, UpdateSigning
from harness.checks.signed_updates import assess_installation, assess_manifest, assess_rejection
from harness.errors import ConfigError
from harness.plugin.conclusions import inconclusive, not_applicable
from harness.probes.update_agent import REFERENCE_AGENT, DeliveryOutcome, UpdateAgent
from harness.updates import crafting
from harness.updates.crafting import CraftedPackage, craft_package
from harness.updates.manifest import UpdateManifest, load_manifest
from harness.updates.signing import SigningIdentity, create_identity

AUTHENTICITY_REFS = ("EN303645-5.3-7", "EN303645-5.3-9", "EN303645-5.3-10", "EN18031-SUM-2", "CLP13_6.11")
UPDATE_SERVICE = "updates"


@dataclass
class UpdateLab:
    """What a delivery needs: the agent, the server, the keys, and the manifest's CVEs."""

    agent: UpdateAgent
    server: object
    trusted: SigningIdentity | None
    untrusted: SigningIdentity
    workdir: Path
    cves: tuple[str, ...]


def _agent_command(profile) -> str:
    """The agent the profile declares in features.software_update; NOT_APPLICABLE / INCONCLUSIVE."""
    features = profile.features
    if features.has("software_update") is False:
        not_applicable(features.absence_reason("software_update"))
    kind = features.kind("software_update")
    if kind is None:
        inconclusive(
            "the profile does not name the device's update agent "
            f"(features.software_update: {REFERENCE_AGENT} for the reference agent's command interface)"
        )
    if kind != REFERENCE_AGENT:
        inconclusive(f"the harness cannot drive the update agent {kind!r}; it drives {REFERENCE_AGENT}")
    return kind


def _trusted_identity(device) -> SigningIdentity | None:
    """The manufacturer's signing identity, where the lab holds it (the reference image's)."""
    signing = device.get(UpdateSigning)
    return signing.identity if signing is not None else None


def _manifest_cves(profile) -> tuple[str, ...]:
    path = profile.update_policy.update_manifest
    if path is None:
        return ()
    try:
        return tuple(load_manifest(path).fixed_cves)
    except ConfigError:
        return ()


@pytest.fixture(scope="module")
def update_lab(device, profile) -> UpdateLab:
    workdir = Path(device.workdir) / "signed-updates"
    return UpdateLab(
        agent=UpdateAgent(device, REFERENCE_AGENT),
        server=device.lab_services.get(UPDATE_SERVICE),
        trusted=_trusted_identity(device),
        untrusted=create_identity(workdir / "untrusted-signer", name="untrusted third party"),
        workdir=workdir,
        cves=_manifest_cves(profile),
    )


def _craft_and_deliver(
    kind: str, lab: UpdateLab, profile, evidence
) -> tuple[CraftedPackage, DeliveryOutcome]:
    """Craft `kind` against the running version, publish it, have the agent install it."""
    _agent_command(profile)
    if lab.server is None:
        inconclusive(f"the lab runs no update server (lab service {UPDATE_SERVICE!r})")
    if kind not in (crafting.UNSIGNED, crafting.UNTRUSTED_SIGNER) and lab.trusted is None:
        inconclusive(
            f"a {kind} package needs the manufacturer's signing key, which the harness has only for "
            "the reference image"
        )
    status = lab.agent.status()
    try:
        package = craft_package(
            kind,
            running_version=status.version,
            hardware=status.hardware,
            workdir=lab.workdir,
            trusted=lab.trusted,
            untrusted=lab.untrusted,
            cves=lab.cves,
        )
    except ValueError as err:
        inconclusive(f"could not craft the {kind} package: {err}")
    evidence.path(package.filename).write_bytes(package.data)
    url = lab.server.publish(package.filename, package.data)
    outcome = lab.agent.deliver(kind, package.filename, url, package.version)
    return package, outcome


def _record(evidence, package: CraftedPackage, outcome: DeliveryOutcome, findings: list[str], server) -> None:
    evidence.write_json(
        "delivery.json",
        {
            "package": {
                "kind": package.kind,
                "file": package.filename,
                "version": package.version,
                "bytes": len(package.data),
                "sha256": package.sha256,
                "what_is_wrong": package.description,
            },
            "outcome": asdict(outcome),
            "server_requests": list(getattr(server, "requests", [])),
            "findings": findings,
        },
    )
    evidence.write_text("agent-output.txt", outcome.agent_output)


@pytest.mark.requirement("FS38-03", "SSU-TES-0030", "SSU-SEC-0001", "EN303645-5.3-2", "EN18031-SUM-1")
def test_valid_update_installs(update_lab, profile, evidence):
    """An approved, correctly signed, newer update is installed and reported as the new version."""
    package, outcome = _craft_and_deliver(crafting.VALID, update_lab, profile, evidence)
    findings = assess_installation(outcome)
    _record(evidence, package, outcome, findings, update_lab.server)
    assert not findings, "; ".join(findings)


@pytest.mark.parametrize("kind", crafting.INVALID_KINDS)
@pytest.mark.requirement("FS38-03", "SSU-SEC-0001", *AUTHENTICITY_REFS)
def test_invalid_update_rejected(kind, update_lab, profile, evidence):
    """A package that is unsigned, untrusted, tampered with or truncated is refused and logged."""
    package, outcome = _craft_and_deliver(kind, update_lab, profile, evidence)
    if kind == crafting.TRUNCATED and outcome.answered and update_lab.agent.device.get(Power) is not None:
        update_lab.agent.check_after_reboot(outcome)  # an interrupted download must not brick the device
    findings = assess_rejection(outcome, package.description)
    _record(evidence, package, outcome, findings, update_lab.server)
    assert not findings, "; ".join(findings)


@pytest.mark.requirement("FS38-03", "SSU-SEC-0001", "EN303645-5.3-2", "EN18031-SUM-2")
def test_rollback_rejected(update_lab, profile, evidence):
    """A correctly signed package older than the running version is refused (no downgrade)."""
    package, outcome = _craft_and_deliver(crafting.ROLLBACK, update_lab, profile, evidence)
    findings = assess_rejection(outcome, package.description)
    _record(evidence, package, outcome, findings, update_lab.server)
    assert not findings, "; ".join(findings)


@pytest.mark.conceptual
@pytest.mark.requirement("SSU-SEC-0010", "EN303645-5.3-11", "CLP13_7.5")
def test_update_manifest_lists_cves_and_no_features(profile, evidence):
    """The declared update manifest names the CVEs it fixes and carries no feature changes."""
    path = profile.update_policy.update_manifest
    if path is None:
        inconclusive("update_policy.update_manifest is not declared")
    try:
        manifest: UpdateManifest = load_manifest(path)
    except ConfigError as err:
        inconclusive(f"the update manifest is not valid: {err}")
    result = assess_manifest(manifest, f"update manifest {Path(path).name}")
    evidence.copy(Path(path))
    evidence.write_json("assessment.json", {"manifest": manifest.model_dump(mode="json"), **asdict(result)})
    assert not result.findings, "; ".join(result.findings)
    if result.not_applicable:
        not_applicable(result.not_applicable)
