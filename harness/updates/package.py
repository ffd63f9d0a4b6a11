"""Update packages in SWUpdate's .swu layout: a `cpio -H crc` archive, sw-description first.

The archive holds `sw-description`, then `sw-description.sig` (a detached DER CMS signature),
then the payloads, as SWUpdate requires. The reference agent reads sw-description as key=value
lines (SWUpdate's libconfig syntax would need a parser in busybox sh); `file=` lines bind each
payload to its sha256, so the signature over sw-description covers the payloads too.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

from harness.util.cpio import CRC_MAGIC, CpioWriter

DESCRIPTION = "sw-description"
SIGNATURE = "sw-description.sig"


@dataclass(frozen=True)
class SwDescription:
    """What a package claims to be: name, version, hardware it fits and its payload digests."""

    name: str
    version: str
    hardware: tuple[str, ...]
    payloads: dict[str, bytes] = field(default_factory=dict)
    cves: tuple[str, ...] = ()
    security_only: bool = False

    def render(self) -> bytes:
        lines = [
            "# hilsec update package description",
            f"name={self.name}",
            f"version={self.version}",
            f"hardware-compatibility={','.join(self.hardware)}",
            f"security-only={'yes' if self.security_only else 'no'}",
        ]
        if self.cves:
            lines.append(f"cves={','.join(self.cves)}")
        for payload, data in self.payloads.items():
            lines.append(f"file={payload} sha256={hashlib.sha256(data).hexdigest()}")
        return ("\n".join(lines) + "\n").encode()


def write_cpio(entries: list[tuple[str, bytes]], *, magic: bytes = CRC_MAGIC) -> bytes:
    """A cpio archive (crc or newc) of regular files, then the trailer; reproducible (mtime 0)."""
    out = io.BytesIO()
    writer = CpioWriter(out, magic=magic)
    for name, data in entries:
        writer.add_file(name, data)
    writer.close()
    return out.getvalue()


def build_package(
    description: SwDescription,
    *,
    signature: bytes | None,
    payloads: dict[str, bytes] | None = None,
) -> bytes:
    """The .swu bytes: sw-description, its signature if any, then the payloads.

    `payloads` defaults to the ones the description lists; passing others builds a package whose
    contents differ from what was signed (a tampered package).
    """
    entries = [(DESCRIPTION, description.render())]
    if signature is not None:
        entries.append((SIGNATURE, signature))
    entries.extend((payloads if payloads is not None else description.payloads).items())
    return write_cpio(entries)
