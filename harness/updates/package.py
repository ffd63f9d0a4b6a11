"""Update packages in SWUpdate's .swu layout: a `cpio -H crc` archive, sw-description first.

The archive holds `sw-description`, then `sw-description.sig` (a detached DER CMS signature),
then the payloads, as SWUpdate requires. The reference agent reads sw-description as key=value
lines (SWUpdate's libconfig syntax would need a parser in busybox sh); `file=` lines bind each
payload to its sha256, so the signature over sw-description covers the payloads too.
"""

from __future__ import annotations

import hashlib
import io
import stat
from dataclasses import dataclass, field

CRC_MAGIC = b"070702"
NEWC_MAGIC = b"070701"
TRAILER = "TRAILER!!!"
DESCRIPTION = "sw-description"
SIGNATURE = "sw-description.sig"
HEADER_FIELDS = 13


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


def parse_description(text: bytes) -> dict[str, list[str]]:
    """sw-description's key=value lines (a key may repeat, e.g. `file`)."""
    fields: dict[str, list[str]] = {}
    for line in text.decode(errors="replace").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def write_cpio(entries: list[tuple[str, bytes]], *, magic: bytes = CRC_MAGIC) -> bytes:
    """A cpio archive (crc or newc) of regular files, then the trailer; reproducible (mtime 0)."""
    out = io.BytesIO()
    for inode, (name, data) in enumerate([*entries, (TRAILER, b"")], start=1):
        is_trailer = name == TRAILER
        encoded = name.encode() + b"\0"
        checksum = sum(data) & 0xFFFFFFFF if magic == CRC_MAGIC else 0
        mode = 0 if is_trailer else stat.S_IFREG | 0o644
        values = (0 if is_trailer else inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), checksum)
        header = magic + b"".join(b"%08X" % value for value in values)
        out.write(header + encoded + _pad(len(header) + len(encoded)))
        out.write(data + _pad(len(data)))
    return out.getvalue()


def read_cpio(archive: bytes) -> list[tuple[str, bytes]]:
    """The files of a crc/newc archive in order; ValueError if it is damaged or truncated."""
    entries: list[tuple[str, bytes]] = []
    offset = 0
    header_size = 6 + 8 * HEADER_FIELDS
    while True:
        header = archive[offset : offset + header_size]
        if len(header) < header_size:
            raise ValueError(f"truncated cpio header at offset {offset}")
        if header[:6] not in (CRC_MAGIC, NEWC_MAGIC):
            raise ValueError(f"bad cpio magic {header[:6]!r} at offset {offset}")
        values = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(HEADER_FIELDS)]
        size, name_size, checksum = values[6], values[11], values[12]
        name_start = offset + header_size
        name = archive[name_start : name_start + name_size - 1].decode()
        data_start = name_start + name_size + len(_pad(header_size + name_size))
        data = archive[data_start : data_start + size]
        if len(data) < size:
            raise ValueError(f"cpio entry {name!r} truncated")
        if header[:6] == CRC_MAGIC and sum(data) & 0xFFFFFFFF != checksum:
            raise ValueError(f"cpio entry {name!r} fails its checksum")
        if name == TRAILER:
            return entries
        entries.append((name, data))
        offset = data_start + size + len(_pad(size))


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
