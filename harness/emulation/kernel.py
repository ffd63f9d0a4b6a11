"""The kernel half of the reference image: vmlinuz, the ELF vmlinux for PVH, module load order.

LAB_NOTES: under TCG most of the boot is the kernel decompressing itself, so when the kernel has
CONFIG_PVH the builder extracts the ELF vmlinux once and QEMU boots it directly. The NIC drivers
are modules whose dependencies are read from each module's .modinfo (no modinfo/kmod needed).
"""

from __future__ import annotations

import gzip
import lzma
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.emulation import elf, lz4legacy
from harness.errors import HarnessSetupError

SETUP_SECTS_OFFSET = 0x1F1
PAYLOAD_OFFSET_FIELD = 0x248


@dataclass(frozen=True)
class KernelTree:
    """An unpacked linux-image package."""

    release: str
    vmlinuz: Path
    config: Path
    module_dir: Path

    @classmethod
    def find(cls, root: Path) -> KernelTree:
        images = sorted((root / "boot").glob("vmlinuz-*"))
        if not images:
            raise HarnessSetupError(f"no boot/vmlinuz-* under {root}")
        vmlinuz = images[-1]
        release = vmlinuz.name.removeprefix("vmlinuz-")
        return cls(
            release=release,
            vmlinuz=vmlinuz,
            config=root / "boot" / f"config-{release}",
            module_dir=root / "lib" / "modules" / release / "kernel",
        )

    def config_value(self, option: str) -> str | None:
        """ "y", "m", a string, or None when the option is not set."""
        return config_value(self.config.read_text(errors="replace"), option)


def config_value(config_text: str, option: str) -> str | None:
    prefix = option + "="
    for line in config_text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip().strip('"')
    return None


def module_index(module_dir: Path) -> dict[str, Path]:
    """Module name (dashes as underscores, as the kernel names them) to its .ko file."""
    return {path.name[: -len(".ko")].replace("-", "_"): path for path in module_dir.rglob("*.ko")}


def module_load_order(wanted: Iterable[str], index: dict[str, Path], depends_of=None) -> list[str]:
    """Modules to insmod, each after the modules it depends on (a depth-first topological order)."""
    depends_of = depends_of or (lambda name: _depends(index[name]))
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        name = name.replace("-", "_")
        if name in order:
            return
        if name not in index:
            raise HarnessSetupError(f"kernel module {name} not found in the kernel package")
        if name in visiting:
            raise HarnessSetupError(f"kernel module dependency cycle at {name}")
        visiting.add(name)
        for dependency in depends_of(name):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


def _depends(path: Path) -> list[str]:
    value = elf.modinfo(path).get("depends", "")
    return [name for name in value.split(",") if name]


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """The ELF kernel inside a bzImage, or None when its compression is one we cannot undo."""
    setup_sects = bzimage[SETUP_SECTS_OFFSET] or 4
    payload_offset, payload_length = struct.unpack_from("<II", bzimage, PAYLOAD_OFFSET_FIELD)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = bzimage[start : start + payload_length]
    try:
        if payload.startswith(b"\xfd7zXZ\x00"):
            data = lzma.LZMADecompressor().decompress(payload)
        elif payload.startswith(b"\x1f\x8b"):
            data = gzip.decompress(payload)
        elif payload.startswith(b"\x02\x21\x4c\x18"):
            data = lz4legacy.decompress_legacy(payload)
        else:
            return None
    except (lzma.LZMAError, OSError, EOFError, ValueError, IndexError):
        return None
    return data if data.startswith(elf.ELF_MAGIC) else None
