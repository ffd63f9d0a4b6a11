"""The packages a signed-update test delivers: one valid, and one per way a package can be bad.

Each invalid package differs from the valid one in exactly one respect, so a device that
installs it has exactly one defect: no signature, a signer outside its trust anchor, a payload
changed after signing, a cut-off download, or an older version signed by the real key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from harness.updates.package import SwDescription, build_package
from harness.updates.signing import SigningIdentity, cms_sign
from harness.updates.versions import newer_version, older_version

PACKAGE_NAME = "hilsec-reference-firmware"
PAYLOAD_NAME = "firmware.bin"
PAYLOAD_SIZE = 32 * 1024

VALID = "valid"
UNSIGNED = "unsigned"
UNTRUSTED_SIGNER = "untrusted-signer"
TAMPERED_PAYLOAD = "tampered-payload"
TRUNCATED = "truncated"
ROLLBACK = "rollback"
INVALID_KINDS = (UNSIGNED, UNTRUSTED_SIGNER, TAMPERED_PAYLOAD, TRUNCATED)
KINDS = (VALID, *INVALID_KINDS, ROLLBACK)

WHAT_IS_WRONG = {
    VALID: "nothing: a newer version signed by the manufacturer's code-signing key",
    UNSIGNED: "no signature at all (no sw-description.sig)",
    UNTRUSTED_SIGNER: "signed by a well-formed code-signing chain the device does not trust",
    TAMPERED_PAYLOAD: "the payload was changed after sw-description was signed",
    TRUNCATED: "the package is cut off in the middle of its payload (an interrupted download)",
    ROLLBACK: "an older version than the running one, correctly signed (a downgrade attack)",
}


@dataclass(frozen=True)
class CraftedPackage:
    """One package and what is wrong with it (a secure device installs only the VALID kind)."""

    kind: str
    filename: str
    version: str
    data: bytes
    description: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def payload_for(version: str) -> bytes:
    """Deterministic firmware bytes for a version (no randomness in evidence files)."""
    seed = f"hilsec reference firmware {version}\n".encode()
    blocks = bytearray(seed)
    counter = 0
    while len(blocks) < PAYLOAD_SIZE:
        blocks += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(blocks[:PAYLOAD_SIZE])


def _tamper(data: bytes) -> bytes:
    """The same length, a few bytes in the middle changed (an injected backdoor)."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 16]) + data[middle + 16 :]


def craft_package(
    kind: str,
    *,
    running_version: str,
    hardware: str,
    workdir: Path,
    trusted: SigningIdentity | None,
    untrusted: SigningIdentity | None = None,
    cves: tuple[str, ...] = (),
) -> CraftedPackage:
    """Build the package of `kind` relative to the device's running version and hardware.

    ValueError if the kind needs a key that is not given (`trusted` for valid, tampered,
    truncated and rollback; `untrusted` for untrusted-signer) or no older version exists.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown package kind {kind!r}; known: {', '.join(KINDS)}")
    if kind == ROLLBACK:
        version = older_version(running_version)
        if version is None:
            raise ValueError(f"no version is older than the running {running_version}")
    else:
        version = newer_version(running_version)
    payload = payload_for(version)
    description = SwDescription(
        name=PACKAGE_NAME,
        version=version,
        hardware=(hardware,),
        payloads={PAYLOAD_NAME: payload},
        cves=cves,
        security_only=bool(cves),
    )
    signer = untrusted if kind == UNTRUSTED_SIGNER else trusted
    if kind != UNSIGNED and signer is None:
        needed = "an untrusted" if kind == UNTRUSTED_SIGNER else "the manufacturer's"
        raise ValueError(f"a {kind} package needs {needed} signing key")
    signature = None if kind == UNSIGNED else cms_sign(description.render(), signer, workdir)  # type: ignore[arg-type]
    payloads = {PAYLOAD_NAME: _tamper(payload)} if kind == TAMPERED_PAYLOAD else None
    data = build_package(description, signature=signature, payloads=payloads)
    if kind == TRUNCATED:
        data = data[: len(data) - PAYLOAD_SIZE // 2]
    filename = f"{kind}-{version}-{secrets.token_hex(4)}.swu"
    return CraftedPackage(kind, filename, version, data, WHAT_IS_WRONG[kind])
