"""The initramfs as a tree of entries, the shared libraries its binaries need, and its cpio file.

Libraries are resolved inside the unpacked packages (ELF DT_NEEDED plus the interpreter), never
from the host, so a build gives the same image whatever the host has installed.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.emulation import elf
from harness.errors import HarnessSetupError
from harness.util.cpio import CpioWriter

LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib")
MAX_SYMLINK_HOPS = 40


def resolve_in_root(root: Path, relative: str) -> str | None:
    """Follow symlinks the way the target would, treating root as "/"; None when missing."""
    parts = [part for part in relative.strip("/").split("/") if part]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        if not os.path.lexists(candidate):
            return None
        resolved.append(part)
    return "/".join(resolved)


def resolve_libraries(binaries: Iterable[str], root: Path) -> list[str]:
    """Every shared object (and the dynamic loader) the binaries need, as paths under root.

    Returns the path each library is found at by name (e.g. lib/x86_64-linux-gnu/libc.so.6),
    which is where the loader on the target will look for it.
    """
    found: dict[str, str] = {}
    queue = [binary.strip("/") for binary in binaries]
    seen: set[str] = set()
    while queue:
        current = queue.pop()
        if current in seen:
            continue
        seen.add(current)
        real = resolve_in_root(root, current)
        if real is None:
            raise HarnessSetupError(f"{current} is missing from the unpacked packages")
        info = elf.read_elf(root / real)
        if info.interpreter:
            interpreter = info.interpreter.strip("/")
            if resolve_in_root(root, interpreter) is None:
                raise HarnessSetupError(f"{current} needs the loader {info.interpreter}: not unpacked")
            found[interpreter] = interpreter
            queue.append(interpreter)
        origin = posixpath.dirname(current)
        search = [p.replace("$ORIGIN", "/" + origin).strip("/") for p in info.runpath] + list(LIBRARY_DIRS)
        for name in info.needed:
            location = next(
                (f"{d}/{name}" for d in search if resolve_in_root(root, f"{d}/{name}") is not None), None
            )
            if location is None:
                raise HarnessSetupError(
                    f"{current} needs {name}, which no downloaded package provides; "
                    "add its Debian package to the variant's package list"
                )
            found.setdefault(name, location)
            queue.append(location)
    return sorted(set(found.values()))


@dataclass
class Entry:
    kind: str  # "dir" | "file" | "symlink" | "chardev"
    mode: int = 0o755
    data: bytes = b""
    source: Path | None = None
    target: str = ""
    device: tuple[int, int] = (0, 0)


class InitramfsTree:
    """Paths of the future root filesystem; parents are created on demand."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def directory(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        if not path:
            return
        self.directory(posixpath.dirname(path))
        existing = self.entries.get(path)
        if existing is None or existing.kind != "dir":
            self.entries[path] = Entry("dir", mode)
        else:
            existing.mode = mode if mode != 0o755 else existing.mode

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._add(path, Entry("file", mode, data=data))

    def copy(self, path: str, source: Path, mode: int | None = None) -> None:
        """A file whose bytes are read from source when the archive is written."""
        if mode is None:
            mode = source.stat().st_mode & 0o7777
        self._add(path, Entry("file", mode, source=source))

    def symlink(self, path: str, target: str) -> None:
        self._add(path, Entry("symlink", 0o777, target=target))

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._add(path, Entry("chardev", mode, device=(major, minor)))

    def _add(self, path: str, entry: Entry) -> None:
        path = path.strip("/")
        self.directory(posixpath.dirname(path))
        self.entries[path] = entry

    def write_cpio(self, destination: Path) -> int:
        """Write the uncompressed newc archive (LAB_NOTES: boots fastest); returns its size."""
        with destination.open("wb") as stream:
            writer = CpioWriter(stream)
            for path in sorted(self.entries):
                entry = self.entries[path]
                if entry.kind == "dir":
                    writer.add_directory(path, entry.mode)
                elif entry.kind == "symlink":
                    writer.add_symlink(path, entry.target)
                elif entry.kind == "chardev":
                    writer.add_char_device(path, *entry.device, mode=entry.mode)
                else:
                    data = entry.source.read_bytes() if entry.source else entry.data
                    writer.add_file(path, data, entry.mode)
            writer.close()
        return destination.stat().st_size
