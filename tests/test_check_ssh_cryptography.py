"""harness.checks.ssh_cryptography on algorithm lists recorded from real servers (dropbear 2022.83
as the reference image runs it, with and without an RSA-1024 host key) and on textbook weak ones."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.checks.ssh_cryptography import (
    DeclaredSshCryptography,
    HostKeyEvidence,
    SshServiceEvidence,
    judge_declared_ssh_cryptography,
    judge_ssh_cryptography,
)
from harness.results.verdicts import Verdict

DROPBEAR_KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp521", "ecdh-sha2-nistp384",
                "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1",
                "kexguess2@matt.ucc.asn.au", "kex-strict-s-v00@openssh.com")  # fmt: skip
DROPBEAR_CIPHERS = ("chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr")
DROPBEAR_MACS = ("hmac-sha1", "hmac-sha2-256")
HOST_KEYS = ("ssh-ed25519", "rsa-sha2-256", "ssh-rsa")  # dropbear 2022.83 names RSA even without an RSA key

# dropbear -r ed25519_key: the RSA algorithms are named, but the server closes the connection when picked.
ED25519_ONLY = SshServiceEvidence(
    22, DROPBEAR_KEX, HOST_KEYS, DROPBEAR_CIPHERS, DROPBEAR_MACS,
    (HostKeyEvidence("ssh-ed25519", "served", 256), HostKeyEvidence("rsa-sha2-256", "refused"),
     HostKeyEvidence("ssh-rsa", "refused")),
)  # fmt: skip
# dropbear -r ed25519_key -r rsa1024_key (the weak-ssh-host-key knob).
WITH_RSA_1024 = replace(
    ED25519_ONLY,
    host_keys=(HostKeyEvidence("ssh-ed25519", "served", 256), HostKeyEvidence("rsa-sha2-256", "served", 1024),
               HostKeyEvidence("ssh-rsa", "served", 1024)),
)  # fmt: skip
DECLARED = DeclaredSshCryptography(
    tuple(k for k in DROPBEAR_KEX if "@matt" not in k and "strict" not in k),
    ("ssh-ed25519",),
    DROPBEAR_CIPHERS,
    DROPBEAR_MACS,
)


def test_hardened_dropbear_passes_naming_its_sha1_choices() -> None:
    outcome = judge_ssh_cryptography([ED25519_ONLY])
    assert outcome.verdict is Verdict.PASS, outcome
    assert "diffie-hellman-group14-sha1" in outcome.reason and "hmac-sha1" in outcome.reason
    assert any("closes the connection" in note and "ssh-rsa" in note for note in outcome.details["notes"])
    assert outcome.measurements[0].value == 128


def test_rsa_1024_host_key_fails_on_its_size_and_sha1_signatures() -> None:
    outcome = judge_ssh_cryptography([WITH_RSA_1024])
    assert outcome.verdict is Verdict.FAIL
    assert any("ssh-rsa" in f and "SHA-1" in f for f in outcome.findings)
    assert any("RSA-1024" in f and "80-bit" in f for f in outcome.findings)
    assert outcome.measurements[0].value == 80


def test_rsa_3072_with_sha2_only_passes() -> None:
    service = replace(
        ED25519_ONLY,
        host_key=("rsa-sha2-512", "rsa-sha2-256"),
        host_keys=(
            HostKeyEvidence("rsa-sha2-512", "served", 3072),
            HostKeyEvidence("rsa-sha2-256", "served", 3072),
        ),
    )
    assert judge_ssh_cryptography([service]).verdict is Verdict.PASS


def test_ssh_rsa_fails_even_when_its_key_was_not_learnt() -> None:
    service = replace(ED25519_ONLY, host_keys=(HostKeyEvidence("ssh-ed25519", "served", 256),
                                               HostKeyEvidence("rsa-sha2-256", "refused"),
                                               HostKeyEvidence("ssh-rsa", "error", detail="timeout")))  # fmt: skip
    outcome = judge_ssh_cryptography([service])
    assert outcome.verdict is Verdict.FAIL and "ssh-rsa" in outcome.reason


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("kex", "diffie-hellman-group1-sha1"),
        ("kex", "diffie-hellman-group-exchange-sha1"),
        ("ciphers", "arcfour128"),
        ("ciphers", "3des-cbc"),
        ("ciphers", "aes128-cbc"),
        ("ciphers", "des-cbc@ssh.com"),
        ("ciphers", "none"),
        ("macs", "hmac-md5"),
        ("macs", "hmac-md5-96"),
        ("macs", "umac-64@openssh.com"),
    ],
)
def test_each_broken_algorithm_fails_naming_it(where: str, name: str) -> None:
    service = replace(ED25519_ONLY, **{where: (*getattr(ED25519_ONLY, where), name)})
    outcome = judge_ssh_cryptography([service])
    assert outcome.verdict is Verdict.FAIL and name in outcome.reason, outcome


def test_ssh_dss_fails() -> None:
    service = replace(
        ED25519_ONLY, host_key=("ssh-dss",), host_keys=(HostKeyEvidence("ssh-dss", "served", 1024),)
    )
    outcome = judge_ssh_cryptography([service])
    assert outcome.verdict is Verdict.FAIL
    assert any("ssh-dss" in f and "SHA-1" in f for f in outcome.findings)
    assert any("DSA-1024" in f for f in outcome.findings)


def test_unknown_algorithm_or_unlearnt_key_size_is_inconclusive() -> None:
    unknown = replace(ED25519_ONLY, ciphers=(*DROPBEAR_CIPHERS, "serpent256-ctr"))
    outcome = judge_ssh_cryptography([unknown])
    assert outcome.verdict is Verdict.INCONCLUSIVE and "serpent256-ctr" in outcome.reason
    unsized = replace(
        ED25519_ONLY, host_key=("rsa-sha2-256",), host_keys=(HostKeyEvidence("rsa-sha2-256", "served", None),)
    )
    assert judge_ssh_cryptography([unsized]).verdict is Verdict.INCONCLUSIVE


def test_unread_service_is_inconclusive_and_a_broken_one_still_fails() -> None:
    unread = SshServiceEvidence(2222, error="ssh-audit gave no JSON")
    outcome = judge_ssh_cryptography([unread])
    assert outcome.verdict is Verdict.INCONCLUSIVE and "tcp/2222" in outcome.reason
    assert judge_ssh_cryptography([unread, WITH_RSA_1024]).verdict is Verdict.FAIL


def test_declared_cryptography_matches_the_hardened_offer() -> None:
    declarations = {22: ("network.services[0].cryptography", DECLARED)}
    outcome = judge_declared_ssh_cryptography([ED25519_ONLY], declarations)
    assert outcome.verdict is Verdict.PASS, outcome


def test_offer_beyond_the_declaration_fails_naming_field_and_algorithms() -> None:
    declarations = {22: ("network.services[0].cryptography", DECLARED)}
    outcome = judge_declared_ssh_cryptography([WITH_RSA_1024], declarations)
    assert outcome.verdict is Verdict.FAIL
    assert (
        "rsa-sha2-256, ssh-rsa" in outcome.reason
        and "network.services[0].cryptography.host_key" in outcome.reason
    )


def test_no_declaration_is_inconclusive_naming_the_field() -> None:
    outcome = judge_declared_ssh_cryptography(
        [ED25519_ONLY], {22: ("network.services[0].cryptography", None)}
    )
    assert outcome.verdict is Verdict.INCONCLUSIVE and "network.services[0].cryptography" in outcome.reason
    undeclared_port = judge_declared_ssh_cryptography([replace(ED25519_ONLY, port=2222)], {})
    assert undeclared_port.verdict is Verdict.INCONCLUSIVE and "network.services" in undeclared_port.reason
