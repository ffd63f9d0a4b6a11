"""Unpack every part of a firmware image, within limits, and hand out each file it holds.

A firmware image is layers: a FIT or a raw flash dump holding a kernel and filesystems, an
initramfs made of several cpio archives one after the other (early microcode, an overlay), each
compressed its own way. Every layer is read to its end and what follows it is read too, so
nothing appended hides. Formats, each read by a maintained reader:

| format | reader |
|---|---|
| gzip, xz, lzma, bzip2 | Python's zlib, lzma, bz2 (one stream at a time, so what follows is found) |
| zstd, lz4 frame | PyPI zstandard, lz4 (lz4 legacy, the kernel's: harness.emulation.lz4legacy) |
| cpio (newc, crc, odc), tar | streamed here / Python's tarfile |
| squashfs | `unsquashfs` (Debian squashfs-tools) |
| ext2/3/4 | `debugfs -R rdump` (Debian e2fsprogs) |
| UBI, UBIFS | `ubireader_extract_files` (PyPI ubi-reader) |
| JFFS2 | `jefferson` (PyPI jefferson) |
| FIT (and any flattened device tree) | PyPI fdt: every `data` property is a part |

A part that cannot be read (an unknown format where one was expected, a damaged stream, a missing
tool, a limit reached) is recorded in `Unpacker.unreadable` by name: the scan is then incomplete
and a check says INCONCLUSIVE, never PASS. Limits (`UnpackLimits`) bound the total bytes unpacked,
the number of files, the nesting depth and the time, whatever an archive claims (archive bombs).
"""

from __future__ import annotations

import bz2
import lzma
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from harness.util.cpio import MAGICS as CPIO_MAGICS
from harness.util.cpio import CpioReader
from harness.util.deadlines import Deadline
from harness.util.processes import stop_process

CHUNK = 1 << 20
SCAN_WINDOW = 16 << 20  # files bigger than this are scanned in windows that overlap by SCAN_OVERLAP
SCAN_OVERLAP = 64 << 10
TOOL_POLL_S = 0.2


@dataclass(frozen=True)
class UnpackLimits:
    """How much one image may unpack to (archive bombs stop here, with the part named)."""

    total_bytes: int = 4 << 30
    files: int = 200_000
    depth: int = 8
    seconds: float = 600.0


@dataclass
class ImageFile:
    """One regular file of the image: where it is (part chain + path) and a way to read it."""

    path: str
    size: int
    open: Callable[[], BinaryIO]


@dataclass
class PartRecord:
    name: str
    format: str
    files: int = 0


DEFAULT_UNPACK_LIMITS = UnpackLimits()


class LimitReached(Exception):
    """A limit of UnpackLimits was reached; the message names it."""


@dataclass
class _Budget:
    limits: UnpackLimits
    deadline: Deadline
    bytes: int = 0
    files: int = 0

    def spend(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.total_bytes:
            raise LimitReached(f"the image unpacks to more than {self.limits.total_bytes} bytes")

    def count_file(self) -> None:
        self.files += 1
        if self.files > self.limits.files:
            raise LimitReached(f"the image holds more than {self.limits.files} files")

    def remaining_s(self) -> float:
        left = self.deadline.remaining()
        if left <= 0:
            raise LimitReached(f"unpacking took longer than {self.limits.seconds:.0f} s")
        return left


# --- identifying a blob -------------------------------------------------------------------------


def _u32(data: bytes, offset: int, order: str = "<") -> int:
    return struct.unpack_from(order + "I", data, offset)[0] if len(data) >= offset + 4 else -1


def identify(head: bytes) -> str | None:
    """The format of the data starting with `head` (at least 4 KiB when available), or None."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"\x02\x21\x4c\x18"):
        return "lz4-legacy"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"\x31\x41\x59\x26\x53\x59":
        return "bzip2"
    if head.startswith(CPIO_MAGICS):
        return "cpio"
    if head.startswith((b"hsqs", b"sqsh")):
        return "squashfs"
    if head.startswith(b"UBI#"):
        return "ubi"
    if _u32(head, 0) == 0x06101831:
        return "ubifs"
    if head.startswith(b"\xd0\x0d\xfe\xed"):
        return "fdt"
    if len(head) >= 1084 and head[1080:1082] == b"\x53\xef" and _u32(head, 1024 + 24) <= 6:
        return "ext"
    if head[:2] in (b"\x85\x19", b"\x19\x85") and len(head) >= 12:
        order = "<" if head[:2] == b"\x85\x19" else ">"
        if _jffs2_crc(head) == _u32(head, 8, order):
            return "jffs2"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head[:1] == b"\x5d" and head[1:5] in (b"\x00\x00\x80\x00", b"\x00\x00\x00\x01", b"\x00\x00\x00\x04"):
        return "lzma"
    return None


def _jffs2_crc(head: bytes) -> int:
    """JFFS2 header CRC: the kernel's crc32(0, ...), i.e. zlib's crc32 without its pre- and
    post-inversion."""
    return (zlib.crc32(head[:8], 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF


COMPRESSIONS = ("gzip", "xz", "zstd", "lz4", "lz4-legacy", "bzip2", "lzma")


# --- the unpacker -------------------------------------------------------------------------------


class Unpacker:
    """Walks an image depth first; `files()` yields every regular file; `parts` and
    `unreadable` say what was read and what could not be."""

    def __init__(self, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS, workdir: Path | None = None) -> None:
        self.limits = limits
        self.parts: list[PartRecord] = []
        self.unreadable: list[str] = []
        self._workdir = workdir
        self._budget = _Budget(limits, Deadline.after(limits.seconds))
        self._scratch: Path | None = None

    # -- entry points --

    def files(self, image: Path) -> Iterator[ImageFile]:
        """Every regular file of `image`, recursing into every part it recognises."""
        with tempfile.TemporaryDirectory(prefix="hilsec-unpack-", dir=self._workdir) as scratch:
            self._scratch = Path(scratch)
            try:
                head = _read_head(image)
                if identify(head) is None:
                    self.unreadable.append(
                        f"{image.name}: not a firmware format the harness reads (starts {head[:8].hex()})"
                    )
                    return
                yield from self._blob(image, image.name, depth=0, expected=True)
            except LimitReached as limit:
                self.unreadable.append(f"{image.name}: unpacking stopped: {limit}")

    # -- one blob: a sequence of parts, each identified by its magic --

    def _blob(self, path: Path, name: str, *, depth: int, expected: bool) -> Iterator[ImageFile]:
        """Parts one after the other in `path`; zero padding between them is skipped and
        anything else that follows a part is a part of its own (an unreadable one if unknown)."""
        if depth > self.limits.depth:
            self.unreadable.append(f"{name}: nested deeper than {self.limits.depth} layers")
            return
        size = path.stat().st_size
        offset, index = 0, 0
        with open(path, "rb") as handle:
            while offset < size:
                self._budget.remaining_s()
                handle.seek(offset)
                head = handle.read(4096)
                kind = identify(head)  # before skipping zeros: an ext superblock follows 1 KiB of them
                if kind is None and head[:1] == b"\0":
                    offset = _skip_zeros(handle, offset, size)
                    if offset >= size:
                        return
                    handle.seek(offset)
                    head = handle.read(4096)
                    kind = identify(head)
                index += 1
                part = f"{name}#{index}" if index > 1 or offset else name
                if kind is None:
                    if expected or index > 1:
                        self.unreadable.append(
                            f"{part}: {size - offset} bytes at offset {offset} in no format the harness reads "
                            f"(starts {head[:8].hex()})"
                        )
                    return
                record = PartRecord(f"{part} ({kind})", kind)
                self.parts.append(record)
                before = self._budget.files
                try:
                    end = yield from self._part(handle, path, offset, size, kind, part, depth)
                except LimitReached:
                    raise
                except Exception as err:  # noqa: BLE001 (each reader raises its own types on damaged data)
                    self.unreadable.append(
                        f"{part}: damaged {kind} data ({type(err).__name__}: {str(err)[:200]})"
                    )
                    return
                finally:
                    record.files = self._budget.files - before
                if end is None:
                    return  # the part's reader took the rest of the blob
                offset = end

    def _part(
        self, handle: BinaryIO, path: Path, offset: int, size: int, kind: str, part: str, depth: int
    ) -> Iterator[ImageFile]:
        """Read one part at `offset`; return where it ended (None: it took the rest)."""
        if kind in COMPRESSIONS:
            out = self._new_scratch_file()
            end = _decompress(handle, offset, kind, out, self._budget)
            yield from self._blob(out, f"{part}>{kind}", depth=depth + 1, expected=True)
            out.unlink(missing_ok=True)
            return end
        if kind == "cpio":
            handle.seek(offset)
            end = yield from self._cpio(handle, offset, part, depth)
            return end
        if kind == "tar":
            yield from self._tar(path, offset, part, depth)
            return None
        if kind == "fdt":
            end = yield from self._fdt(handle, offset, part, depth)
            return end
        source = path
        if offset:
            source = self._new_scratch_file()
            handle.seek(offset)
            _copy_stream(handle, source, size - offset, self._budget)
        yield from self._with_tool(source, kind, part, depth)
        return None

    # -- readers --

    def _cpio(self, handle: BinaryIO, offset: int, part: str, depth: int) -> Iterator[ImageFile]:
        archive = CpioReader(handle, offset)
        for entry in archive:
            if stat.S_ISREG(entry.mode) and entry.size:
                name = f"{part}:/{entry.name.lstrip('./')}"
                yield from self._file(handle, entry.data_start, entry.size, name, depth)
        return archive.end

    def _tar(self, path: Path, offset: int, part: str, depth: int) -> Iterator[ImageFile]:
        with open(path, "rb") as raw:
            raw.seek(offset)
            with tarfile.open(fileobj=raw, mode="r|") as archive:
                for member in archive:
                    if member.isreg():
                        stream = archive.extractfile(member)
                        if stream is None:
                            continue
                        out = self._new_scratch_file()
                        _copy_stream(stream, out, member.size, self._budget)
                        yield from self._disk_file(out, f"{part}:/{member.name.lstrip('./')}", depth)
                        out.unlink(missing_ok=True)

    def _fdt(self, handle: BinaryIO, offset: int, part: str, depth: int) -> Iterator[ImageFile]:
        handle.seek(offset)
        header = handle.read(40)
        total = struct.unpack_from(">I", header, 4)[0]
        self._budget.spend(total)
        handle.seek(offset)
        blob = handle.read(total)
        if len(blob) < total:
            raise ValueError(f"device tree cut short ({len(blob)} of {total} bytes)")
        for path, data in fdt_data_properties(blob):
            out = self._new_scratch_file()
            out.write_bytes(data)
            yield from self._disk_file(out, f"{part}:{path}", depth)
            out.unlink(missing_ok=True)
        return offset + total

    # -- files --

    def _file(self, handle: BinaryIO, start: int, size: int, name: str, depth: int) -> Iterator[ImageFile]:
        """A file inside the current blob: recursed into if it is a part, handed out otherwise."""
        self._budget.count_file()
        handle.seek(start)
        head = handle.read(min(size, 4096))
        if identify(head) is not None:
            out = self._new_scratch_file()
            handle.seek(start)
            _copy_stream(handle, out, size, self._budget)
            yield from self._blob(out, name, depth=depth + 1, expected=False)
            out.unlink(missing_ok=True)
            return
        self._budget.spend(size)
        yield ImageFile(name, size, _range_opener(handle.name, start, size))

    def _disk_file(self, path: Path, name: str, depth: int) -> Iterator[ImageFile]:
        self._budget.count_file()
        size = path.stat().st_size
        if identify(_read_head(path)) is not None:
            yield from self._blob(path, name, depth=depth + 1, expected=False)
            return
        yield ImageFile(name, size, _range_opener(str(path), 0, size))

    def _with_tool(self, source: Path, kind: str, part: str, depth: int) -> Iterator[ImageFile]:
        out = self._new_scratch_dir()
        try:
            _run_extractor(kind, source, out, self._budget)
        except FileNotFoundError as err:
            self.unreadable.append(f"{part}: cannot read {kind}: {err}")
            return
        except subprocess.SubprocessError as err:
            self.unreadable.append(f"{part}: {kind} extractor failed: {err}")
            return
        for root, dirs, names in os.walk(out, followlinks=False):
            dirs.sort()
            for entry in sorted(names):
                path = Path(root) / entry
                info = path.lstat()
                if stat.S_ISREG(info.st_mode):
                    relative = path.relative_to(out).as_posix()
                    yield from self._disk_file(path, f"{part}:/{relative}", depth)
        shutil.rmtree(out, ignore_errors=True)

    # -- scratch space --

    def _new_scratch_file(self) -> Path:
        assert self._scratch is not None
        handle, name = tempfile.mkstemp(dir=self._scratch)
        os.close(handle)
        return Path(name)

    def _new_scratch_dir(self) -> Path:
        assert self._scratch is not None
        return Path(tempfile.mkdtemp(dir=self._scratch))


# --- helpers ------------------------------------------------------------------------------------


FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
MAX_FDT_DEPTH = 64


def fdt_data_properties(blob: bytes) -> Iterator[tuple[str, bytes]]:
    """(node path, value) of every `data` property of a flattened device tree (a FIT's images).

    Read here rather than with a device-tree library: those guess each property's type (a
    kernel image becomes millions of 32-bit words); a FIT needs only the raw bytes. ValueError
    on a damaged tree."""
    if len(blob) < 40:
        raise ValueError("device tree header cut short")
    struct_offset, strings_offset = struct.unpack_from(">II", blob, 8)
    struct_size = (
        struct.unpack_from(">I", blob, 36)[0] if struct.unpack_from(">I", blob, 20)[0] >= 17 else len(blob)
    )
    end = min(len(blob), struct_offset + struct_size)
    position = struct_offset
    path: list[str] = []
    while position + 4 <= end:
        token = struct.unpack_from(">I", blob, position)[0]
        position += 4
        if token == FDT_BEGIN_NODE:
            stop = blob.index(b"\0", position)
            if len(path) >= MAX_FDT_DEPTH:
                raise ValueError("device tree nested too deep")
            path.append(blob[position:stop].decode("utf-8", errors="replace"))
            position = (stop + 4) & ~3
        elif token == FDT_END_NODE:
            if not path:
                raise ValueError("device tree closes a node it never opened")
            path.pop()
        elif token == FDT_PROP:
            length, name_offset = struct.unpack_from(">II", blob, position)
            position += 8
            if position + length > end:
                raise ValueError("device tree property runs past the structure block")
            name_start = strings_offset + name_offset
            name = blob[name_start : blob.index(b"\0", name_start)]
            if name == b"data":
                yield "/".join(path) or "/", blob[position : position + length]
            position = (position + length + 3) & ~3
        elif token == FDT_NOP:
            continue
        elif token == FDT_END:
            return
        else:
            raise ValueError(f"device tree token {token} at offset {position - 4}")


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(4096)


def _skip_zeros(handle: BinaryIO, offset: int, size: int) -> int:
    handle.seek(offset)
    while offset < size:
        chunk = handle.read(CHUNK)
        if not chunk:
            return size
        stripped = chunk.lstrip(b"\0")
        if stripped:
            return offset + len(chunk) - len(stripped)
        offset += len(chunk)
    return offset


def _range_opener(path: str, start: int, size: int) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        handle = open(path, "rb")  # noqa: SIM115 (the caller closes it)
        handle.seek(start)
        return _Window(handle, size)  # type: ignore[return-value]

    return opener


class _Window:
    """A read-only view of `size` bytes of an open file from its current position."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle = handle
        self._left = size

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        data = self._handle.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_stream(stream: BinaryIO, out: Path, size: int, budget: _Budget) -> None:
    """Up to `size` bytes from the stream's position into `out`, each counted against the budget."""
    with open(out, "wb") as target:
        left = size
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            budget.spend(len(chunk))
            target.write(chunk)
            left -= len(chunk)


INPUT_CHUNK = 1 << 16  # compressed bytes fed at a time; output is taken at most CHUNK at a time
LZ4_LEGACY_MAGIC = b"\x02\x21\x4c\x18"
LZ4_LEGACY_BLOCK = 8 << 20  # the most one block of the kernel's legacy lz4 decompresses to


def _decompressor(kind: str):  # noqa: ANN202 (each library's own decompressor object)
    """A decompressor with the lzma/bz2 interface: decompress(data, max_length), eof,
    needs_input, unused_data (zlib: unconsumed_tail instead of needs_input)."""
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "xz":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)
    if kind == "lzma":
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "zstd":
        import pyzstd

        return pyzstd.ZstdDecompressor()
    if kind == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameDecompressor()
    raise ValueError(kind)


def _decompress(handle: BinaryIO, offset: int, kind: str, out: Path, budget: _Budget) -> int:
    """Decompress one stream at `offset` into `out`, output bounded by the budget however much
    the stream expands; return the offset just after the stream."""
    handle.seek(offset)
    if kind == "lz4-legacy":
        return _lz4_legacy(handle, offset, out, budget)
    engine = _decompressor(kind)
    is_zlib = kind == "gzip"
    fed = 0
    with open(out, "wb") as target:
        while True:
            budget.remaining_s()
            chunk = handle.read(INPUT_CHUNK)
            if not chunk:
                raise EOFError(f"{kind} stream cut short")
            fed += len(chunk)
            data = chunk
            while True:
                piece = engine.decompress(data, CHUNK)
                budget.spend(len(piece))
                target.write(piece)
                if engine.eof:
                    return offset + fed - len(engine.unused_data)
                if is_zlib:
                    data = engine.unconsumed_tail
                    if not data:
                        break
                elif engine.needs_input:
                    break
                else:
                    data = b""


def _lz4_legacy(handle: BinaryIO, offset: int, out: Path, budget: _Budget) -> int:
    """The kernel's legacy lz4 (magic, then blocks of u32 size + data); it ends at a size that is
    no block (another magic, zero padding, the next part) or at the end of the data."""
    import lz4.block

    handle.read(4)
    position = offset + 4
    with open(out, "wb") as target:
        while True:
            budget.remaining_s()
            size_field = handle.read(4)
            if len(size_field) < 4:
                return position
            size = struct.unpack("<I", size_field)[0]
            if size_field == LZ4_LEGACY_MAGIC:
                position += 4
                continue
            if size == 0 or size > LZ4_LEGACY_BLOCK + (LZ4_LEGACY_BLOCK >> 8) + 16:
                return position
            block = handle.read(size)
            if len(block) < size:
                raise EOFError("lz4 legacy block cut short")
            piece = lz4.block.decompress(block, uncompressed_size=LZ4_LEGACY_BLOCK)
            budget.spend(len(piece))
            target.write(piece)
            position += 4 + size


def _tool(name: str) -> str:
    """A reader's executable: the PATH, then next to this Python (a venv's console scripts)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError(f"{name} not found (see README: make install)")
    return found


def _extractor_argv(kind: str, source: Path, out: Path) -> list[str]:
    if kind == "squashfs":
        return [_tool("unsquashfs"), "-no-xattrs", "-f", "-d", str(out / "root"), str(source)]
    if kind == "ext":
        return [_tool("debugfs"), "-R", f"rdump / {out}", str(source)]
    if kind in ("ubi", "ubifs"):
        return [_tool("ubireader_extract_files"), "-k", "-o", str(out), str(source)]
    if kind == "jffs2":
        return [_tool("jefferson"), "-f", "-d", str(out / "root"), str(source)]
    raise ValueError(kind)


def _run_extractor(kind: str, source: Path, out: Path, budget: _Budget) -> None:
    """Run a reader into `out`, stopped as soon as what it wrote passes the byte or file limit
    or the time runs out (each file is also capped by RLIMIT_FSIZE)."""
    argv = _extractor_argv(kind, source, out)
    left_bytes = budget.limits.total_bytes - budget.bytes
    left_files = budget.limits.files - budget.files

    def limit_file_size() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (left_bytes, left_bytes))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)

    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=limit_file_size,  # noqa: PLW1509 (no threads touch state between fork and exec)
        start_new_session=True,
    )
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read(1 << 16)), daemon=True)  # type: ignore[union-attr]
    reader.start()
    problem = ""
    while process.poll() is None:
        time.sleep(TOOL_POLL_S)
        written, count = _usage(out)
        if written > left_bytes:
            problem = f"unpacks to more than the {budget.limits.total_bytes} bytes limit"
        elif count > left_files:
            problem = f"holds more than the {budget.limits.files} files limit"
        elif budget.deadline.expired:
            problem = f"took longer than {budget.limits.seconds:.0f} s"
        if problem:
            stop_process(process, group=True, graceful=False)
            raise LimitReached(f"{kind} {problem}")
    reader.join(timeout=5)
    written, count = _usage(out)
    budget.spend(written)
    if process.returncode != 0 and count == 0:
        message = b"".join(stderr).decode(errors="replace").strip().splitlines()
        raise subprocess.SubprocessError(f"exit {process.returncode}: {message[-1][:200] if message else ''}")


def _usage(folder: Path) -> tuple[int, int]:
    total = count = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_blocks * 512 if info.st_blocks * 512 < info.st_size else info.st_size
                count += 1
    return total, count


__all__ = ["ImageFile", "LimitReached", "PartRecord", "UnpackLimits", "Unpacker", "identify"]
