"""The one cpio reader and writer: the kernel's initramfs, SWUpdate's .swu, a firmware image's parts.

Written here rather than calling `cpio` so that device nodes (/dev/console) can be created without
root, file owners are root regardless of who builds, and archives are reproducible. The reader
walks headers of the newc, crc and odc formats and leaves each entry's data in the stream, so a
firmware image's archive is never loaded whole; it is bounded against hostile headers: names are
read up to PATH_MAX (the rest is skipped, not loaded), data is never read by the walk itself, and
`read_cpio` takes only what the bytes it was given hold.
"""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

NEWC_MAGIC = b"070701"
CRC_MAGIC = b"070702"  # newc with a sum of the data bytes in the last header field
ODC_MAGIC = b"070707"  # the old portable format: octal fields, no padding
MAGICS = (NEWC_MAGIC, CRC_MAGIC, ODC_MAGIC)
TRAILER = "TRAILER!!!"
NEWC_HEADER = 6 + 13 * 8
ODC_HEADER = 76
NAME_LIMIT = 4096  # PATH_MAX: the most of an entry's name that is read; a longer one is skipped


@dataclass(frozen=True)
class CpioEntry:
    """One header: the entry's data is `size` bytes at `data_start` of the stream."""

    raw_name: bytes  # without the terminating NUL, at most NAME_LIMIT bytes
    mode: int
    size: int
    data_start: int
    checksum: int  # the crc format's sum of the data bytes; 0 in the other formats
    magic: bytes

    @property
    def name(self) -> str:
        return self.raw_name.decode("utf-8", errors="replace")


class CpioReader:
    """The entries of the cpio archive at `offset` of `handle`, up to its trailer; `end` is then
    where the archive ends. Each header is read at its own position, so the caller may read an
    entry's data (moving the stream) between entries. ValueError on a damaged header."""

    def __init__(self, handle: BinaryIO, offset: int = 0, *, magics: tuple[bytes, ...] = MAGICS) -> None:
        self._handle = handle
        self._offset = offset
        self._magics = magics
        self.trailer: CpioEntry | None = None
        self.end: int | None = None

    def __iter__(self) -> Iterator[CpioEntry]:
        position = self._offset
        while True:
            entry, position = self._header(position)
            if entry.raw_name == TRAILER.encode():
                self.trailer, self.end = entry, position
                return
            yield entry

    def _header(self, position: int) -> tuple[CpioEntry, int]:
        """The entry whose header is at `position`, and where the next header starts."""
        self._handle.seek(position)
        header = self._handle.read(NEWC_HEADER)
        magic = header[:6]
        if len(header) < 6:
            raise ValueError(f"truncated cpio header at offset {position}")
        if magic not in self._magics:
            raise ValueError(f"bad cpio magic {magic!r} at offset {position}")
        if magic == ODC_MAGIC:
            if len(header) < ODC_HEADER:
                raise ValueError(f"truncated cpio header at offset {position}")
            mode, name_size, size = int(header[18:24], 8), int(header[59:65], 8), int(header[65:76], 8)
            checksum, header_size, name_pad, data_pad = 0, ODC_HEADER, 0, 0
        else:
            if len(header) < NEWC_HEADER:
                raise ValueError(f"truncated cpio header at offset {position}")
            fields = [int(header[6 + i * 8 : 14 + i * 8], 16) for i in range(13)]
            mode, size, name_size, checksum = fields[1], fields[6], fields[11], fields[12]
            header_size, name_pad, data_pad = NEWC_HEADER, -(NEWC_HEADER + name_size) % 4, -size % 4
        self._handle.seek(position + header_size)
        wanted = min(name_size, NAME_LIMIT + 1)
        raw_name = self._handle.read(wanted)
        if len(raw_name) < wanted:
            raise ValueError(f"truncated cpio name at offset {position + header_size}")
        raw_name = raw_name[: max(name_size - 1, 0)]
        data_start = position + header_size + name_size + name_pad
        entry = CpioEntry(raw_name[:NAME_LIMIT], mode, size, data_start, checksum, magic)
        return entry, data_start + size + data_pad


@dataclass(frozen=True)
class CpioMember:
    """An entry read whole by `read_cpio`."""

    name: str
    mode: int
    data: bytes


def read_cpio(archive: bytes, *, magics: tuple[bytes, ...] = MAGICS) -> list[CpioMember]:
    """Every entry of the archive at the start of `archive`, in order, with its data; ValueError
    if it is damaged, truncated, fails a crc checksum or has a name that is not UTF-8."""
    reader = CpioReader(io.BytesIO(archive), magics=magics)
    members = [_member(archive, entry) for entry in reader]
    assert reader.trailer is not None
    _member(archive, reader.trailer)  # a trailer that claims data must hold it, as any entry
    return members


def _member(archive: bytes, entry: CpioEntry) -> CpioMember:
    name = entry.raw_name.decode()
    data = archive[entry.data_start : entry.data_start + entry.size]
    if len(data) < entry.size:
        raise ValueError(f"cpio entry {name!r} truncated")
    if entry.magic == CRC_MAGIC and sum(data) & 0xFFFFFFFF != entry.checksum:
        raise ValueError(f"cpio entry {name!r} fails its checksum")
    return CpioMember(name, entry.mode, data)


class CpioWriter:
    """Appends entries to a binary stream in the newc format (or crc, with checksums); call
    close() to write the trailer. Names lose a leading "/" (an initramfs is relative to /)."""

    def __init__(self, stream: BinaryIO, *, mtime: int = 0, magic: bytes = NEWC_MAGIC) -> None:
        if magic not in (NEWC_MAGIC, CRC_MAGIC):
            raise ValueError(f"cpio writer writes newc or crc, not {magic!r}")
        self._stream = stream
        self._mtime = mtime
        self._magic = magic
        self._next_inode = 1
        self._closed = False

    def add_directory(self, name: str, mode: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | mode, b"", nlink=2)

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def add_symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def add_char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, b"", rdev=(major, minor))

    def close(self) -> None:
        if not self._closed:
            self._entry(TRAILER, 0, b"", inode=0, nlink=1)
            self._closed = True

    def _entry(
        self,
        name: str,
        mode: int,
        data: bytes,
        *,
        nlink: int = 1,
        rdev: tuple[int, int] = (0, 0),
        inode: int | None = None,
    ) -> None:
        if self._closed:
            raise ValueError("cpio archive already closed")
        name = name.lstrip("/") or "."
        encoded = name.encode() + b"\0"
        if inode is None:
            inode = self._next_inode
            self._next_inode += 1
        checksum = sum(data) & 0xFFFFFFFF if self._magic == CRC_MAGIC else 0
        fields = (inode, mode, 0, 0, nlink, self._mtime, len(data), 0, 0, *rdev, len(encoded), checksum)
        header = self._magic + b"".join(b"%08X" % value for value in fields)
        self._stream.write(header + encoded + _padding(len(header) + len(encoded)))
        self._stream.write(data + _padding(len(data)))


def _padding(length: int) -> bytes:
    return b"\0" * (-length % 4)
