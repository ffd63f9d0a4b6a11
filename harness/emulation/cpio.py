"""A writer for the cpio "newc" format the Linux kernel unpacks as its initramfs.

Written here rather than by calling `cpio` so that device nodes (/dev/console) can be created
without root, file owners are root regardless of who builds, and the archive is reproducible.
"""

from __future__ import annotations

import stat
from typing import BinaryIO

NEWC_MAGIC = b"070701"
TRAILER = "TRAILER!!!"


class CpioWriter:
    """Appends entries to a binary stream; call close() to write the trailer."""

    def __init__(self, stream: BinaryIO, *, mtime: int = 0) -> None:
        self._stream = stream
        self._mtime = mtime
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
        fields = (inode, mode, 0, 0, nlink, self._mtime, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = NEWC_MAGIC + b"".join(b"%08X" % value for value in fields)
        self._stream.write(header + encoded + _padding(len(header) + len(encoded)))
        self._stream.write(data + _padding(len(data)))


def _padding(length: int) -> bytes:
    return b"\0" * (-length % 4)


def read_newc(blob: bytes) -> list[tuple[str, int, bytes]]:
    """(name, mode, data) of each entry up to the trailer: lets tests and tools inspect an initrd."""
    entries = []
    offset = 0
    while True:
        if blob[offset : offset + 6] != NEWC_MAGIC:
            raise ValueError(f"bad cpio magic at offset {offset}")
        fields = [int(blob[offset + 6 + i * 8 : offset + 14 + i * 8], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = offset + 110
        name = blob[name_start : name_start + namesize - 1].decode()
        data_start = name_start + namesize + _pad_len(110 + namesize)
        data = blob[data_start : data_start + size]
        offset = data_start + size + _pad_len(size)
        if name == TRAILER:
            return entries
        entries.append((name, mode, data))


def _pad_len(length: int) -> int:
    return -length % 4
