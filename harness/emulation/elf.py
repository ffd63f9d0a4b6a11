"""Just enough ELF64 reading to package binaries and kernel modules without running them.

The builder must not ask the host's `ldd` or `modinfo` what a target file needs: the host may be
another distribution, or lack kmod. The answers are in the files themselves.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
SHT_DYNAMIC = 6
PT_INTERP = 3
DT_NULL = 0
DT_NEEDED = 1
DT_RPATH = 15
DT_RUNPATH = 29


class NotElfError(ValueError):
    """The file is not a 64-bit little-endian ELF file."""


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    offset: int
    size: int
    link: int


@dataclass(frozen=True)
class ElfInfo:
    """What packaging needs to know about one ELF file."""

    interpreter: str | None
    needed: tuple[str, ...]
    runpath: tuple[str, ...]


def _header(data: bytes) -> tuple[int, int, int, int, int, int, int]:
    if data[:4] != ELF_MAGIC or data[4] != 2 or data[5] != 1:
        raise NotElfError("not a 64-bit little-endian ELF file")
    (phoff, shoff) = struct.unpack_from("<QQ", data, 0x20)
    (phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from("<HHHHH", data, 0x36)
    return phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx


def sections(data: bytes) -> list[Section]:
    """The section table, names resolved."""
    _, _, _, shoff, shentsize, shnum, shstrndx = _header(data)
    raw = []
    for index in range(shnum):
        name, stype, _flags, _addr, offset, size, link = struct.unpack_from(
            "<IIQQQQI", data, shoff + index * shentsize
        )
        raw.append((name, stype, offset, size, link))
    if not raw:
        return []
    names_offset = raw[shstrndx][2]
    return [
        Section(_cstring(data, names_offset + name), stype, offset, size, link)
        for name, stype, offset, size, link in raw
    ]


def section_bytes(data: bytes, name: str) -> bytes | None:
    for section in sections(data):
        if section.name == name:
            return data[section.offset : section.offset + section.size]
    return None


def read_elf(path: Path) -> ElfInfo:
    """Interpreter, DT_NEEDED and DT_RUNPATH/DT_RPATH of an executable or shared library."""
    data = path.read_bytes()
    phoff, phentsize, phnum, *_ = _header(data)
    interpreter = None
    for index in range(phnum):
        ptype, _flags, offset, _vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize
        )
        if ptype == PT_INTERP:
            interpreter = data[offset : offset + filesz].rstrip(b"\0").decode()
    table = sections(data)
    needed: list[str] = []
    runpath: list[str] = []
    for section in table:
        if section.type != SHT_DYNAMIC:
            continue
        strtab = table[section.link].offset
        for entry in range(section.size // 16):
            tag, value = struct.unpack_from("<qQ", data, section.offset + entry * 16)
            if tag == DT_NULL:
                break
            if tag == DT_NEEDED:
                needed.append(_cstring(data, strtab + value))
            elif tag in (DT_RPATH, DT_RUNPATH):
                runpath.extend(p for p in _cstring(data, strtab + value).split(":") if p)
    return ElfInfo(interpreter, tuple(needed), tuple(runpath))


def modinfo(path: Path) -> dict[str, str]:
    """A kernel module's .modinfo (key=value strings); repeated keys keep the first value."""
    blob = section_bytes(path.read_bytes(), ".modinfo") or b""
    info: dict[str, str] = {}
    for item in blob.split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep and key not in info:
            info[key] = value
    return info


def _cstring(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode()
