"""FS38-01 / EN 303 645 5.1-3, 5.5-4: the cryptography that protects network logins is current,
unbroken and what the maker declares.

Every service the lab's service inventory identified as SSH (a full port scan, each port
identified by what answers: never by its number) is read from the lab side
(harness.probes.ssh_algorithms: ssh-audit for its KEX, host-key, cipher and MAC lists, one key
exchange per host-key algorithm for the key behind it). The decisions are
harness.checks.ssh_cryptography (tested both ways): known feasible attacks or below 112 bits
FAIL, weaker-but-unbroken choices are named in the reason, and whatever the wire offers beyond
the profile's `network.services[*].cryptography` FAILs.
"""

from __future__ import annotations

import pytest

from harness.checks.ssh_cryptography import (
    DeclaredSshCryptography,
    HostKeyEvidence,
    SshServiceEvidence,
    judge_declared_ssh_cryptography,
    judge_ssh_cryptography,
)
from harness.plugin.conclusions import conclude, inconclusive, not_applicable
from harness.probes.ssh_algorithms import SshOffer, observe_ssh

pytestmark = pytest.mark.requirement("FS38-01", "EN303645-5.1-3", "EN303645-5.5-4")


def _declared_ssh(profile) -> list[str]:
    """What the profile says about SSH: declared SSH services and the `ssh` feature."""
    said = [
        f"network.services[{index}] ({service.name}, tcp/{service.port})"
        for index, service in enumerate(profile.network.services)
        if service.protocol == "tcp" and (service.login == "ssh" or service.cryptography is not None)
    ]
    if profile.features.has("ssh") is True:
        said.append("features.ssh")
    return said


@pytest.fixture(scope="module")
def ssh_reading(device, profile, service_inventory) -> tuple[list[SshOffer], str, str]:
    """Each SSH service's offer, read once for this module's tests: (offers, why inconclusive,
    why not applicable)."""
    if not service_inventory.available:
        return [], service_inventory.why_not, ""
    ports = [service.port for service in service_inventory.of_kind("ssh")]
    if not ports:
        said = _declared_ssh(profile)
        if said:
            return (
                [],
                (
                    f"the profile declares SSH ({', '.join(said)}) but no port of the lab's full scan "
                    "answered with an SSH banner, so its cryptography could not be read"
                ),
                "",
            )
        return (
            [],
            "",
            (
                "no port of the lab's full TCP scan answered with an SSH banner and the profile declares "
                "no SSH service: the device has no SSH login"
            ),
        )
    offers = []
    with device.lab_side():
        for port in ports:
            host, host_port = device.endpoint("tcp", port)
            offers.append(observe_ssh(host, host_port, port))
    return offers, "", ""


def _offers(ssh_reading) -> list[SshOffer]:
    offers, why_inconclusive, why_not_applicable = ssh_reading
    if why_inconclusive:
        inconclusive(why_inconclusive)
    if why_not_applicable:
        not_applicable(why_not_applicable)
    return offers


def _evidence(offers: list[SshOffer]) -> list[SshServiceEvidence]:
    return [
        SshServiceEvidence(
            offer.port,
            tuple(offer.kex),
            tuple(offer.host_key),
            tuple(offer.ciphers),
            tuple(offer.macs),
            tuple(HostKeyEvidence(k.algorithm, k.state, k.bits, k.detail) for k in offer.host_keys),
            offer.error,
        )
        for offer in offers
    ]


def _write(evidence, offers: list[SshOffer], outcome) -> None:
    evidence.write_text(
        "ssh-algorithms.txt",
        "".join(offer.summary() for offer in offers)
        + f"verdict: {outcome.verdict}\nreason: {outcome.reason}\n"
        + "".join(f"note: {note}\n" for note in outcome.details.get("notes", [])),
    )


@pytest.mark.requirement("TS103701-5.1-3-1c", "TS103701-5.1-3-1d")
def test_ssh_cryptography_has_no_known_feasible_attack(ssh_reading, evidence):
    """No SSH service offers an algorithm, or signs with a host key, that is broken or below 112 bits."""
    ssh_offers = _offers(ssh_reading)
    outcome = judge_ssh_cryptography(_evidence(ssh_offers))
    _write(evidence, ssh_offers, outcome)
    conclude(outcome)


@pytest.mark.requirement("TS103701-5.1-3-2a", "TS103701-5.5-4-2c")
def test_ssh_offers_only_the_declared_cryptography(ssh_reading, profile, evidence):
    """Each SSH service offers only the algorithms its profile entry declares."""
    ssh_offers = _offers(ssh_reading)
    declarations: dict[int, tuple[str, DeclaredSshCryptography | None]] = {}
    for index, service in enumerate(profile.network.services):
        if service.protocol != "tcp":
            continue
        declared = service.cryptography
        declarations[int(service.port)] = (
            f"network.services[{index}].cryptography",
            None
            if declared is None
            else DeclaredSshCryptography(
                tuple(declared.kex), tuple(declared.host_key), tuple(declared.ciphers), tuple(declared.macs)
            ),
        )
    outcome = judge_declared_ssh_cryptography(_evidence(ssh_offers), declarations)
    _write(evidence, ssh_offers, outcome)
    conclude(outcome)
