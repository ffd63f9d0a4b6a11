"""Ed25519 signatures over a report's manifest, so a reviewer can prove who sealed the evidence.

The signature is over the exact bytes of the manifest (SHA256SUMS), written raw (64 bytes) beside
it, with the public key as PEM, so `openssl pkeyutl -verify -pubin -inkey SHA256SUMS.pub -rawin
-in SHA256SUMS -sigfile SHA256SUMS.sig` checks it without hilsec. The public key shipped in the
report only says which key signed; trust comes from the key a reviewer pins (`--public-key`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import ConfigError

KEY_HINT = "an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519 -out lab-signing.pem)"
PUBLIC_HINT = "an Ed25519 public key in PEM (openssl pkey -in KEY -pubout)"


def load_signing_key(path: Path, field: str = "signing.key") -> Ed25519PrivateKey:
    """The lab's signing key; anything else (missing, other type, encrypted) is one ConfigError line."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise ConfigError(
            str(path), field, f"not a usable private key ({_first_line(err)})", KEY_HINT
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(str(path), field, f"a {type(key).__name__}, not an Ed25519 key", KEY_HINT)
    return key


def load_public_key(path: Path, field: str = "--public-key") -> Ed25519PublicKey:
    """A pinned public key (PEM); a private key file is accepted and its public half taken."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError(str(path), field, f"cannot be read ({err.strerror})", PUBLIC_HINT) from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as err:
            raise ConfigError(str(path), field, f"not a PEM key ({_first_line(err)})", PUBLIC_HINT) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(str(path), field, f"a {type(key).__name__}, not an Ed25519 key", PUBLIC_HINT)
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, shortened: how a report names the key that signed it."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def signature_valid(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def public_key_from_pem(data: bytes) -> Ed25519PublicKey | None:
    """The key a report says signed it; None when the file is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__
