"""Update signing identities: a CA (the device's trust anchor) and a code-signing leaf under it.

The layout follows what SWUpdate expects (LAB_NOTES): the device holds only the CA certificate;
packages carry a detached DER CMS signature over sw-description made with a leaf whose
extendedKeyUsage is codeSigning. Keys are made with the host's openssl CLI, the same tool the
lab's DTLS peers use, so no extra Python crypto dependency is needed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessSetupError

OPENSSL_TIMEOUT_S = 30.0
CA_CERT, SIGNER_CERT, SIGNER_KEY = "ca.pem", "signer.pem", "signer.key"
_CA_KEY = "ca.key"
# Where a reference image keeps its signing identity (in the image cache folder, not in the
# initramfs) and where the device finds its trust anchor.
UPDATE_SIGNING_DIR = "update-signing"
UPDATE_TRUST_ANCHOR = "etc/hilsec/update-ca.pem"
_DIGEST_FILE = "digest"  # the digest cms_sign uses with this identity (sha256 when absent)


@dataclass(frozen=True)
class KeyStrength:
    """How an identity's keys are made and what digest its signatures use."""

    genpkey: tuple[str, ...]  # openssl genpkey arguments
    digest: str


CURRENT = KeyStrength(("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"), "sha256")  # ECDSA P-256
# The weak-update-signing knob's maker: a key size and a digest with known feasible attacks.
WEAK = KeyStrength(("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"), "sha1")
SIGNING_DIGESTS = ("sha1", "sha224", "sha256", "sha384", "sha512")
_LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature\n"
    "extendedKeyUsage=codeSigning\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid\n"
)


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs updates: the CA certificate a device trusts and the leaf key that signs."""

    directory: Path

    @property
    def ca_certificate(self) -> Path:
        return self.directory / CA_CERT

    @property
    def signer_certificate(self) -> Path:
        return self.directory / SIGNER_CERT

    @property
    def signer_key(self) -> Path:
        return self.directory / SIGNER_KEY

    def exists(self) -> bool:
        return all(p.is_file() for p in (self.ca_certificate, self.signer_certificate, self.signer_key))


def openssl(*args: str, data: bytes | None = None) -> bytes:
    """Run the host's openssl; HarnessSetupError with its message when it fails."""
    try:
        done = subprocess.run(
            ["openssl", *args], input=data, capture_output=True, timeout=OPENSSL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessSetupError(f"openssl {args[0]} could not run: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise HarnessSetupError(f"openssl {args[0]} failed: {message[0] if message else done.returncode}")
    return done.stdout


def create_identity(
    directory: Path, *, name: str = "hilsec reference", strength: KeyStrength = CURRENT
) -> SigningIdentity:
    """A new CA + code-signing leaf in `directory` (reused if already complete)."""
    identity = SigningIdentity(directory)
    if identity.exists():
        return identity
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, leaf_csr = directory / _CA_KEY, directory / "signer.csr"
    extensions = directory / "signer.ext"
    extensions.write_text(_LEAF_EXTENSIONS)
    digest = f"-{strength.digest}"
    openssl("genpkey", *strength.genpkey, "-out", str(ca_key))
    openssl(
        "req", "-x509", "-new", "-key", str(ca_key), digest, "-subj", f"/CN={name} update CA",
        "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(identity.ca_certificate),
    )  # fmt: skip
    openssl("genpkey", *strength.genpkey, "-out", str(identity.signer_key))
    openssl("req", "-new", "-key", str(identity.signer_key), digest, "-subj", f"/CN={name} update signer",
            "-out", str(leaf_csr))  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(leaf_csr), digest, "-CA", str(identity.ca_certificate), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "3650", "-extfile", str(extensions), "-out", str(identity.signer_certificate),
    )  # fmt: skip
    (directory / _DIGEST_FILE).write_text(strength.digest + "\n")
    for path in (ca_key, identity.signer_key):
        path.chmod(0o600)
    leaf_csr.unlink()
    return identity


def load_identity(directory: Path) -> SigningIdentity | None:
    """The identity kept in `directory`, or None if it is incomplete."""
    identity = SigningIdentity(directory)
    return identity if identity.exists() else None


def cms_sign(content: bytes, identity: SigningIdentity, workdir: Path) -> bytes:
    """A detached DER CMS signature over `content`, as `openssl cms -sign ... -binary` makes it."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "to-sign.bin"
    source.write_bytes(content)
    chosen = identity.directory / _DIGEST_FILE
    digest = chosen.read_text().strip() if chosen.is_file() else CURRENT.digest
    if digest not in SIGNING_DIGESTS:
        raise HarnessSetupError(
            f"{chosen}: unknown digest {digest[:20]!r}; use one of {', '.join(SIGNING_DIGESTS)}"
        )
    try:
        return openssl(
            "cms", "-sign", "-binary", "-nosmimecap", "-md", digest, "-outform", "DER", "-in", str(source),
            "-signer", str(identity.signer_certificate), "-inkey", str(identity.signer_key),
        )  # fmt: skip
    finally:
        source.unlink(missing_ok=True)
