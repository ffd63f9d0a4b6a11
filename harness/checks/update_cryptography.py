"""FS38-03 / EN 303 645 5.3-7: the cryptography that protects updates is current and unbroken.

Judged on the signatures of the maker's valid package (harness.analysis.update_signature), by
security strength in bits as NIST SP 800-57 Part 1 Rev. 5 (table 2) and SP 800-131A Rev. 2 count
it: at least 112 bits for the signer's key, the signature's digest and the hash the signer's
certificate is signed with. Below that, or a digest with published collision attacks (MD5, SHA-1:
chosen-prefix collisions since 2020), is a known feasible attack (TS 103 701 5.3-7-1d) and not
best practice (5.3-7-1c): FAIL naming it. No CMS signature in the package, or an algorithm this
table does not know, is INCONCLUSIVE: what cannot be read is not judged good.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.analysis.update_signature import SignatureFacts
from harness.results.outcome import Measurement, Outcome

MINIMUM_BITS = 112  # SP 800-131A Rev. 2: below 112 bits of security is disallowed for signatures
BROKEN_DIGESTS = {
    "md5": "MD5 (practical collisions since 2004)",
    "sha1": "SHA-1 (chosen-prefix collisions since 2020)",
}
# Collision resistance in bits of each digest (SP 800-57 Part 1 table 3; broken ones: what attacks cost).
DIGEST_BITS = {"md5": 18, "sha1": 63, "sha224": 112, "sha256": 128, "sha384": 192, "sha512": 256,
               "sha3-256": 128, "sha3-384": 192, "sha3-512": 256}  # fmt: skip
# Security strength of finite-field and factoring keys by modulus size (SP 800-57 Part 1 table 2).
_FACTORING_BITS = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))
_DIGEST_IN_SIGNATURE = {"md5WithRSAEncryption": "md5", "sha1WithRSAEncryption": "sha1",
                        "ecdsa-with-SHA1": "sha1", "dsa-with-sha1": "sha1"}  # fmt: skip


def modulus_strength(modulus_bits: int) -> int:
    """Security strength in bits of an RSA/DSA/finite-field key of this modulus size (0: below 1024)."""
    return next((bits for size, bits in _FACTORING_BITS if modulus_bits >= size), 0)


def key_strength(facts: SignatureFacts) -> int | None:
    """The signer key's security strength in bits, None when its kind or size is unknown."""
    if facts.key_type in ("RSA", "DSA") and facts.key_bits:
        return modulus_strength(facts.key_bits)
    if facts.key_type == "EC" and facts.key_bits:
        return facts.key_bits // 2
    return {"Ed25519": 128, "Ed448": 224}.get(facts.key_type)


def _judge_one(facts: SignatureFacts, where: str) -> tuple[list[str], list[str], list[Measurement]]:
    findings: list[str] = []
    missing: list[str] = []
    strength = key_strength(facts)
    digest_bits = DIGEST_BITS.get(facts.digest)
    measurements = [
        Measurement("signer key security strength", strength, "bits", low=MINIMUM_BITS),
        Measurement("signature digest collision resistance", digest_bits, "bits", low=MINIMUM_BITS),
    ]
    key = f"{facts.key_type}-{facts.key_bits}" if facts.key_bits else facts.key_type  # "RSA-1024", "EC-256"
    if strength is None:
        missing.append(f"{where}: the signer's key ({key}) is of a kind this check cannot judge")
    elif strength < MINIMUM_BITS:
        findings.append(
            f"{where}: its {key} key gives {strength}-bit security, below the {MINIMUM_BITS} bits "
            "SP 800-131A allows for signatures (a known feasible attack)"
        )
    for digest, what in ((facts.digest, "its digest"), (_DIGEST_IN_SIGNATURE.get(facts.signature), "its signature algorithm")):  # fmt: skip
        if digest in BROKEN_DIGESTS:
            findings.append(f"{where}: {what} is {BROKEN_DIGESTS[digest]}")
    if digest_bits is None:
        missing.append(f"{where}: digest {facts.digest} is not one this check can judge")
    elif digest_bits < MINIMUM_BITS and facts.digest not in BROKEN_DIGESTS:
        findings.append(f"{where}: digest {facts.digest} gives {digest_bits}-bit collision resistance")
    if facts.certificate_digest in BROKEN_DIGESTS:
        findings.append(
            f"{where}: the signer's certificate ({facts.signer}) is signed with "
            f"{BROKEN_DIGESTS[facts.certificate_digest]}, so the certificate itself can be forged"
        )
    return findings, missing, measurements


def judge_update_cryptography(signatures: Sequence[SignatureFacts], package: str) -> Outcome:
    """FAIL on any signature below current strength; INCONCLUSIVE when none could be read."""
    if not signatures:
        problem = (
            f"no CMS signature was found in {package}: its signature format could not be read, "
            "so the update cryptography was not judged"
        )
        return Outcome.inconclusive(problem, [problem])
    findings: list[str] = []
    missing: list[str] = []
    measurements: list[Measurement] = []
    for facts in signatures:
        where = (
            f"the signature at offset {facts.offset} of {package}"
            if len(signatures) > 1
            else f"the signature of {package}"
        )
        found, absent, measured = _judge_one(facts, where)
        findings += found
        missing += absent
        measurements += measured
    described = "; ".join(f.describe() for f in signatures)
    return Outcome.from_findings(
        findings,
        missing=missing,
        passed=f"{package} is signed with current cryptography: {described}",
        measurements=tuple(measurements),
        details={"signatures": [f.describe() for f in signatures]},
    )
