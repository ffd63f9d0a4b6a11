"""What a U-Boot board's tests need on the lab host: Debian's U-Boot builds and u-boot-tools.

They come from Debian packages the Makefile installs (u-boot-qemu, u-boot-tools, qemu-system-arm),
not from a download at test time; `hilsec image prepare` says which are missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

UBOOT_QEMU_ARM64 = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
TOOLS = ("qemu-system-aarch64", "mkenvimage", "mkimage", "dtc")


def missing_uboot_tools() -> list[str]:
    """The U-Boot build and tools this host lacks (empty: all present)."""
    missing = [] if UBOOT_QEMU_ARM64.is_file() else [str(UBOOT_QEMU_ARM64)]
    return missing + [tool for tool in TOOLS if shutil.which(tool) is None]
