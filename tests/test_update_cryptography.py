"""Update cryptography judged both ways, on signatures made by the host's openssl.

harness.analysis.update_signature reads a CMS signature wherever it sits in a package (a
SWUpdate archive, bytes appended to an image); harness.checks.update_cryptography passes
ECDSA P-256 / SHA-256, RSA-3072 / SHA-256 and Ed25519, fails RSA-1024 / SHA-1 (the
weak-update-signing knob's maker) and a SHA-1 certificate, and is INCONCLUSIVE on a package
without a CMS signature. Hostile bytes around or inside a signature never raise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.analysis.update_signature import MAX_CANDIDATES, SIGNED_DATA_OID, SignatureFacts, read_signatures
from harness.checks.update_cryptography import judge_update_cryptography, key_strength
from harness.results.verdicts import Verdict
from harness.updates.crafting import VALID, craft_package
from harness.updates.signing import CURRENT, WEAK, KeyStrength, cms_sign, create_identity
from harness.util.cpio import read_cpio

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

RSA_3072 = KeyStrength(("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"), "sha256")


def _signature(tmp_path: Path, strength: KeyStrength, name: str) -> bytes:
    identity = create_identity(tmp_path / name, strength=strength)
    return cms_sign(b"sw-description contents", identity, tmp_path / f"{name}-work")


@pytest.fixture(scope="module")
def signatures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("signatures")
    return {
        "current": _signature(folder, CURRENT, "current"),
        "weak": _signature(folder, WEAK, "weak"),
        "rsa3072": _signature(folder, RSA_3072, "rsa3072"),
    }


def test_a_current_signature_is_read_and_passes(signatures) -> None:
    found = read_signatures(b"\x00" * 100 + signatures["current"] + b"payload")
    assert [(f.digest, f.signature, f.key_type, f.key_bits, f.curve) for f in found] == [
        ("sha256", "ecdsa-with-SHA256", "EC", 256, "secp256r1")
    ]
    assert found[0].offset == 100 and found[0].certificate_digest == "sha256"
    outcome = judge_update_cryptography(found, "update.swu")
    assert outcome.verdict is Verdict.PASS, outcome
    assert all(m.within_limits for m in outcome.measurements)


def test_rsa_3072_passes(signatures) -> None:
    found = read_signatures(signatures["rsa3072"])
    assert (found[0].key_type, found[0].key_bits) == ("RSA", 3072)
    assert judge_update_cryptography(found, "update.swu").verdict is Verdict.PASS


def test_eddsa_keys_have_their_curves_strength() -> None:
    ed25519 = SignatureFacts(0, "sha512", "ed25519", "Ed25519", 256, None, "sha256", "CN=x")
    assert key_strength(ed25519) == 128
    assert judge_update_cryptography([ed25519], "update.swu").verdict is Verdict.PASS


def test_the_weak_makers_signature_fails_naming_key_and_digests(signatures) -> None:
    found = read_signatures(signatures["weak"])
    assert [(f.digest, f.key_type, f.key_bits, f.certificate_digest) for f in found] == [
        ("sha1", "RSA", 1024, "sha1")
    ]
    outcome = judge_update_cryptography(found, "update.swu")
    assert outcome.verdict is Verdict.FAIL
    text = " ".join(outcome.findings)
    assert "RSA-1024" in text and "80-bit" in text and "SHA-1" in text and "certificate" in text
    assert [m.within_limits for m in outcome.measurements] == [False, False]


def test_every_signature_of_a_package_is_judged(signatures) -> None:
    both = signatures["current"] + b"\xff" * 7 + signatures["weak"]
    found = read_signatures(both)
    assert [f.key_bits for f in found] == [256, 1024]
    outcome = judge_update_cryptography(found, "bundle.raucb")
    assert outcome.verdict is Verdict.FAIL and "offset" in outcome.findings[0]


def test_a_crafted_swupdate_package_carries_its_identitys_strength(tmp_path: Path) -> None:
    weak = create_identity(tmp_path / "maker", strength=WEAK)
    package = craft_package(
        VALID, running_version="1.0.1", hardware="hilsec-ref:1.0", workdir=tmp_path / "w", trusted=weak
    )
    entries = {member.name: member.data for member in read_cpio(package.data)}
    assert "sw-description.sig" in entries
    found = read_signatures(package.data)
    assert len(found) == 1 and found[0].digest == "sha1" and found[0].key_bits == 1024


def test_no_cms_signature_is_inconclusive() -> None:
    outcome = judge_update_cryptography(read_signatures(b"an image with a raw RSA signature" * 50), "fw.bin")
    assert outcome.verdict is Verdict.INCONCLUSIVE and "fw.bin" in outcome.reason


def test_an_unknown_key_kind_is_inconclusive_not_pass() -> None:
    facts = SignatureFacts(0, "sha256", "1.2.3.4", "GOST", None, None, "sha256", "CN=x")
    assert key_strength(facts) is None
    assert judge_update_cryptography([facts], "fw.bin").verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    "hostile",
    [
        SIGNED_DATA_OID,  # the content type and nothing around it
        b"\x30\x84\xff\xff\xff\xff" + SIGNED_DATA_OID + b"\xa0\x80",  # a length far past the end
        b"\x30\x0d" + SIGNED_DATA_OID + b"\xa0\x00",  # an empty SignedData
        (b"\x30\x82\x00\x10" + SIGNED_DATA_OID + b"\x00" * 5) * 10_000,  # many broken candidates
    ],
    ids=["bare-oid", "huge-length", "empty", "many"],
)
def test_hostile_bytes_yield_nothing_and_never_raise(hostile: bytes) -> None:
    assert read_signatures(hostile) == []


def test_a_signature_behind_too_many_decoys_is_not_searched_for(signatures) -> None:
    decoys = (b"\x30\x82\x00\x10" + SIGNED_DATA_OID + b"\x00" * 5) * (MAX_CANDIDATES + 1)
    assert read_signatures(decoys + signatures["current"]) == []
    assert read_signatures(signatures["current"] + decoys)  # found before the search stops


def test_a_cut_signature_is_skipped(signatures) -> None:
    whole = signatures["current"]
    assert read_signatures(whole[: len(whole) // 2]) == []
