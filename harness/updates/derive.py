"""Invalid update packages derived from the maker's valid one: the lab has no signing key.

Each derived package differs from the maker's package in one respect, so a device that installs it
has one defect: its signature stripped, its signature replaced by the harness's own (untrusted)
key's, a payload changed after signing, or the download cut off. SWUpdate archives (.swu, a cpio
archive with sw-description and its .sig) are taken apart and rebuilt with valid cpio checksums,
so only the signature stands between the device and the change. A package of another format can
still be tampered with and truncated (bytes in its middle); stripping or replacing a signature
needs to know where it is, so those kinds raise ValueError naming the format problem.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from harness.updates.crafting import TAMPERED_PAYLOAD, TRUNCATED, UNSIGNED, UNTRUSTED_SIGNER, CraftedPackage
from harness.updates.package import DESCRIPTION, write_cpio
from harness.updates.signing import SigningIdentity, cms_sign
from harness.util.cpio import CRC_MAGIC, NEWC_MAGIC, read_cpio

DERIVED_KINDS = (UNSIGNED, UNTRUSTED_SIGNER, TAMPERED_PAYLOAD, TRUNCATED)
TAMPER_BYTES = 16
SWU_MAGICS = (CRC_MAGIC, NEWC_MAGIC)  # the cpio formats SWUpdate reads

WHAT_IS_WRONG = {
    UNSIGNED: "the maker's package with its signature stripped",
    UNTRUSTED_SIGNER: "the maker's package with its signature replaced by one from a key the device does not trust",
    TAMPERED_PAYLOAD: "the maker's package with a payload changed after signing (signature kept)",
    TRUNCATED: "the maker's package cut off in the middle (an interrupted download)",
}


def _flip_middle(data: bytes) -> bytes:
    middle = max(0, len(data) // 2 - TAMPER_BYTES // 2)
    return (
        data[:middle]
        + bytes(b ^ 0xFF for b in data[middle : middle + TAMPER_BYTES])
        + data[middle + TAMPER_BYTES :]
    )


def swu_entries(data: bytes) -> list[tuple[str, bytes]] | None:
    """The files of an SWUpdate archive (sw-description first), or None for another format."""
    if data[:6] not in SWU_MAGICS:
        return None
    try:
        entries = [(member.name, member.data) for member in read_cpio(data, magics=SWU_MAGICS)]
    except ValueError:
        return None
    return entries if entries and entries[0][0] == DESCRIPTION else None


def _signatures(entries: list[tuple[str, bytes]]) -> list[str]:
    return [name for name, _ in entries if name.startswith(DESCRIPTION) and name.endswith(".sig")]


def _largest_payload(entries: list[tuple[str, bytes]]) -> int:
    candidates = [i for i, (name, _) in enumerate(entries) if not name.startswith(DESCRIPTION)]
    if not candidates:
        raise ValueError("the maker's package carries no payload besides sw-description")
    return max(candidates, key=lambda i: len(entries[i][1]))


def _derived_bytes(kind: str, data: bytes, untrusted: SigningIdentity | None, workdir: Path) -> bytes:
    entries = swu_entries(data)
    magic = data[:6]
    if kind == TRUNCATED:
        if entries is None:
            return data[: len(data) // 2]
        payload = entries[_largest_payload(entries)][1]
        start = data.find(payload)  # the payload's bytes sit contiguously in the archive
        return data[: start + len(payload) // 2] if start >= 0 else data[: len(data) // 2]
    if kind == TAMPERED_PAYLOAD:
        if entries is None:
            return _flip_middle(data)
        index = _largest_payload(entries)
        entries[index] = (entries[index][0], _flip_middle(entries[index][1]))
        return write_cpio(entries, magic=magic)
    if entries is None:
        raise ValueError(
            "the maker's package is not an SWUpdate archive (cpio with sw-description first), "
            f"so the harness cannot find its signature to {'strip' if kind == UNSIGNED else 'replace'}"
        )
    signatures = _signatures(entries)
    if not signatures:
        raise ValueError("the maker's package has no sw-description.sig: it is not signed")
    if kind == UNSIGNED:
        return write_cpio([(n, d) for n, d in entries if n not in signatures], magic=magic)
    if kind == UNTRUSTED_SIGNER:
        if untrusted is None:
            raise ValueError("replacing the signature needs the harness's own (untrusted) signing key")
        description = entries[0][1]
        replaced = cms_sign(description, untrusted, workdir)
        return write_cpio([(n, replaced if n in signatures else d) for n, d in entries], magic=magic)
    raise ValueError(f"cannot derive a {kind} package; derivable: {', '.join(DERIVED_KINDS)}")


def derive_package(
    kind: str,
    maker_package: Path,
    version: str,
    *,
    untrusted: SigningIdentity | None,
    workdir: Path,
) -> CraftedPackage:
    """The `kind` package derived from the maker's valid package (which installs `version`)."""
    data = maker_package.read_bytes()
    derived = _derived_bytes(kind, data, untrusted, workdir)
    suffix = "".join(maker_package.suffixes[-1:]) or ".bin"
    filename = f"{kind}-{version}-{secrets.token_hex(4)}{suffix}"
    what = f"{WHAT_IS_WRONG[kind]} ({maker_package.name})"
    return CraftedPackage(kind, filename, version, derived, what)


def maker_copy(kind: str, maker_package: Path, version: str, what: str) -> CraftedPackage:
    """The maker's own package under a name of its own in this run (a valid or an older one)."""
    suffix = "".join(maker_package.suffixes[-1:]) or ".bin"
    filename = f"{kind}-{version}-{secrets.token_hex(4)}{suffix}"
    return CraftedPackage(
        kind, filename, version, maker_package.read_bytes(), f"{what} ({maker_package.name})"
    )
