"""FS38-03 signed updates: the device installs only authentic, intact, newer update packages.

The packages come from one of two places:
- the maker's (profile `updates:`): a valid signed package newer than the running firmware and an
  older valid one. Every invalid package is derived from the valid one (signature stripped,
  signature replaced by the harness's own untrusted key's, payload changed after signing, cut off);
  the lab needs no signing key. This is how a lab tests a device it did not build.
- the harness's own crafting, where the lab holds the maker's signing identity (UpdateSigning: the
  reference image, whose maker is hilsec): valid, unsigned, untrusted, tampered, truncated, older.
Each package is handed to the device the way it takes updates (UpdateChannel: a console command
with the URL on the lab's update server, an upload to the device's endpoint, a request naming the
URL), and the test reads the running version the device reports before and after, what the device
answered and its log. A rejected package must leave the version unchanged, be logged, and leave
the device answering (the truncated one is also followed by a power cycle). The invalid packages
are delivered first, while the device still runs a version older than theirs: a package that is
not newer would be refused for that alone and prove nothing about signatures. SSU-SEC-0010 is
judged on the update manifest the profile declares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.update_signature import read_signatures
from harness.capabilities import Power, UpdateChannel, UpdateSigning
from harness.checks.signed_updates import judge_installation, judge_manifest, judge_rejection
from harness.checks.update_cryptography import judge_update_cryptography
from harness.errors import ConfigError
from harness.observations.update_delivery import DeliveryOutcome
from harness.plugin.conclusions import conclude, inconclusive, not_applicable
from harness.probes.update_agent import REFERENCE_AGENT, UpdateAgent
from harness.results.outcome import Outcome
from harness.updates import crafting
from harness.updates.crafting import CraftedPackage, craft_package
from harness.updates.derive import derive_package, maker_copy
from harness.updates.manifest import UpdateManifest, load_manifest
from harness.updates.signing import SigningIdentity, create_identity
from harness.updates.versions import is_newer

AUTHENTICITY_REFS = (  # not 5.3-7: test_update_cryptography_is_current judges the cryptography
    "EN303645-5.3-9",
    "EN303645-5.3-10",
    "EN18031-SUM-2",
    "CLP13_6.11",
)
UPDATE_SERVICE = "updates"
SIGNATURE_SEARCH_BYTES = 64 << 20  # of a larger package, its first and last 64 MiB are searched


@dataclass
class UpdateLab:
    """What a delivery needs: the agent, the server, where packages come from, the manifest's CVEs."""

    agent: UpdateAgent
    server: object
    maker: Any  # the profile's `updates` section, or None when the harness crafts packages
    trusted: SigningIdentity | None
    untrusted: SigningIdentity
    workdir: Path
    cves: tuple[str, ...]
    notes: list[str]


def _check_applicable(profile) -> None:
    features = profile.features
    if features.has("software_update") is False:
        not_applicable(features.absence_reason("software_update"))


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


def _agent(device, profile) -> UpdateAgent:
    channel = device.require(UpdateChannel, "hand update packages to the device")
    maker = profile.updates
    if maker is None:
        return UpdateAgent(device, channel)
    return UpdateAgent(
        device,
        channel,
        version_command=maker.version.command,
        version_pattern=maker.version.pattern,
        log_command=maker.log_command,
        install_timeout=maker.install_timeout_s,
    )


@pytest.fixture(scope="module")
def update_lab(device, profile) -> UpdateLab:
    _check_applicable(profile)
    workdir = Path(device.workdir) / "signed-updates"
    return UpdateLab(
        agent=_agent(device, profile),
        server=device.lab_services.get(UPDATE_SERVICE),
        maker=profile.updates,
        trusted=_trusted_identity(device) if profile.updates is None else None,  # the maker's: no key needed
        untrusted=create_identity(workdir / "untrusted-signer", name="untrusted third party"),
        workdir=workdir,
        cves=_manifest_cves(profile),
        notes=[],
    )


def _older(a: str, b: str) -> bool | None:
    """Whether version a is older than b; None when either is not a dotted number."""
    try:
        return is_newer(b, a)
    except ValueError:
        return None


def _crafted(kind: str, lab: UpdateLab, profile) -> CraftedPackage:
    """The harness as the maker: a package of `kind` crafted against the running version."""
    if profile.features.kind("software_update") != REFERENCE_AGENT and lab.trusted is None:
        inconclusive(
            "the maker's packages are needed: name them in the profile's updates section "
            "(updates.valid, updates.older, updates.delivery, updates.version)"
        )
    if kind not in (crafting.UNSIGNED, crafting.UNTRUSTED_SIGNER) and lab.trusted is None:
        inconclusive(
            f"a {kind} package needs the manufacturer's signing key, which the lab does not hold; "
            "name the maker's packages in the profile's updates section instead"
        )
    status = lab.agent.status()
    try:
        return craft_package(
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


def _ensure_running_older_than(version: str, lab: UpdateLab) -> None:
    """A package of `version` only tests signatures on a device that runs something older.

    A device found already at that version (an earlier package installed) is power-cycled once
    when the bench can (a device that keeps updates in RAM returns to its firmware); if it still
    runs it, the test cannot decide."""
    running = lab.agent.running_version()
    if _older(running, version) is not False:
        return
    device = lab.agent.device
    if device.get(Power) is not None:
        device.power_cycle()
        now = lab.agent.running_version()
        lab.notes.append(f"the device ran {running}, not older than {version}; power-cycled: now {now}")
        if _older(now, version) is not False:
            return
        running = now
    inconclusive(
        f"the device runs version {running}, not older than the maker's package {version}: the package "
        "(and everything derived from it) would be refused as not newer, proving nothing about its "
        "signature; restore the device to an older firmware"
    )


def _maker_package(kind: str, lab: UpdateLab) -> CraftedPackage:
    """The maker's package for `kind`: theirs for valid and rollback, derived from theirs otherwise."""
    maker = lab.maker
    if kind == crafting.ROLLBACK:
        if maker.older is None:
            inconclusive("the rollback test needs the maker's older valid package (profile updates.older)")
        running = lab.agent.running_version()
        if _older(maker.older.version, running) is False:
            inconclusive(
                f"the maker's older package {maker.older.version} is not older than the running {running}"
            )
        return maker_copy(
            kind, Path(maker.older.file), maker.older.version, "the maker's older valid package"
        )
    _ensure_running_older_than(maker.valid.version, lab)
    if kind == crafting.VALID:
        return maker_copy(
            kind, Path(maker.valid.file), maker.valid.version, "the maker's valid, newer package"
        )
    try:
        return derive_package(
            kind, Path(maker.valid.file), maker.valid.version, untrusted=lab.untrusted, workdir=lab.workdir
        )
    except ValueError as err:
        inconclusive(f"could not derive the {kind} package from the maker's: {err}")


def _craft_and_deliver(
    kind: str, lab: UpdateLab, profile, evidence
) -> tuple[CraftedPackage, DeliveryOutcome]:
    """Get the `kind` package (the maker's or crafted), hand it to the device, record what changed."""
    lab.notes.clear()
    package = _maker_package(kind, lab) if lab.maker is not None else _crafted(kind, lab, profile)
    evidence.path(package.filename).write_bytes(package.data)
    outcome = lab.agent.deliver(kind, package.filename, package.data, package.version)
    return package, outcome


def _record(
    evidence, package: CraftedPackage, outcome: DeliveryOutcome, judged: Outcome, lab: UpdateLab
) -> None:
    server, notes = lab.server, lab.notes
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
            "findings": list(judged.findings),
            "notes": list(notes),
        },
    )
    evidence.write_text("agent-output.txt", outcome.agent_output)


@pytest.mark.parametrize("kind", crafting.INVALID_KINDS)
@pytest.mark.requirement("FS38-03", "SSU-SEC-0001", *AUTHENTICITY_REFS)
@pytest.mark.requirement("TS103701-5.3-2-2a", "TS103701-5.3-2-2b", "TS103701-5.3-9-1c", "TS103701-5.3-9-1d")
def test_invalid_update_rejected(kind, update_lab, profile, evidence):
    """A package that is unsigned, untrusted, tampered with or truncated is refused and logged."""
    package, outcome = _craft_and_deliver(kind, update_lab, profile, evidence)
    if kind == crafting.TRUNCATED and outcome.answered and update_lab.agent.device.get(Power) is not None:
        update_lab.agent.check_after_reboot(outcome)  # an interrupted download must not brick the device
    judged = judge_rejection(outcome, package.description)
    _record(evidence, package, outcome, judged, update_lab)
    conclude(judged)


@pytest.mark.requirement("FS38-03", "SSU-TES-0030", "SSU-SEC-0001", "EN303645-5.3-2", "EN18031-SUM-1")
def test_valid_update_installs(update_lab, profile, evidence):
    """An approved, correctly signed, newer update is installed and reported as the new version."""
    package, outcome = _craft_and_deliver(crafting.VALID, update_lab, profile, evidence)
    judged = judge_installation(outcome)
    _record(evidence, package, outcome, judged, update_lab)
    conclude(judged)


@pytest.mark.requirement("FS38-03", "SSU-SEC-0001", "EN303645-5.3-2", "EN18031-SUM-2")
@pytest.mark.requirement("TS103701-5.3-2-2b")
def test_rollback_rejected(update_lab, profile, evidence):
    """A correctly signed package older than the running version is refused (no downgrade)."""
    package, outcome = _craft_and_deliver(crafting.ROLLBACK, update_lab, profile, evidence)
    judged = judge_rejection(outcome, package.description)
    _record(evidence, package, outcome, judged, update_lab)
    conclude(judged)


def _package_bytes(path: Path) -> bytes:
    """A package's bytes to search for signatures: all of it, or its two ends when it is huge."""
    size = path.stat().st_size
    with path.open("rb") as package:
        if size <= 2 * SIGNATURE_SEARCH_BYTES:
            return package.read()
        head = package.read(SIGNATURE_SEARCH_BYTES)
        package.seek(size - SIGNATURE_SEARCH_BYTES)
        return head + package.read()


@pytest.mark.requirement("FS38-03", "EN303645-5.3-7", "EN18031-SUM-2")
@pytest.mark.requirement("TS103701-5.3-7-1c", "TS103701-5.3-7-1d")
def test_update_cryptography_is_current(update_lab, profile, evidence):
    """The valid package's signatures use at least 112-bit keys and digests without known attacks."""
    if update_lab.maker is not None:
        path = Path(update_lab.maker.valid.file)
        name, data = path.name, _package_bytes(path)
    else:
        package = _crafted(crafting.VALID, update_lab, profile)
        name, data = package.filename, package.data
    signatures = read_signatures(data)
    outcome = judge_update_cryptography(signatures, name)
    evidence.write_json(
        "update-cryptography.json",
        {"package": name, "signatures": [asdict(s) for s in signatures], "assessment": outcome.as_dict()},
    )
    conclude(outcome)


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
    result = judge_manifest(manifest, f"update manifest {Path(path).name}")
    evidence.copy(Path(path))
    evidence.write_json(
        "assessment.json",
        {"manifest": manifest.model_dump(mode="json"), "findings": list(result.findings), **result.details},
    )
    conclude(result)
