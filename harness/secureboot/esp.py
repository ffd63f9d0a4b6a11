"""An EFI system partition as a folder, which QEMU presents as a FAT disk (`fat:rw:DIR`).

Layout of a removable-media boot: the firmware starts \\EFI\\BOOT\\BOOTX64.EFI (shim), shim
starts grubx64.efi from the same folder, and Debian's signed GRUB reads grub.cfg next to itself
($cmdpath) and boots /vmlinuz with /initrd. GRUB asks shim to verify the kernel; the initrd is
not signed (as on Debian systems).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

GRUB_CONFIG = """\
set timeout=0
set default=0
menuentry "{title}" {{
    search --no-floppy --file --set=root /vmlinuz
    linux /vmlinuz {cmdline}
    {initrd_line}
}}
"""


@dataclass(frozen=True)
class BootChain:
    """The three stages of one boot attempt, as bytes, and what they are."""

    name: str
    description: str
    shim: bytes
    grub: bytes
    kernel: bytes
    expected_to_verify: bool


def assemble_esp(
    chain: BootChain, target: Path, *, initrd: Path | None = None, cmdline: str = "console=ttyS0,115200"
) -> Path:
    """Write the ESP folder for `chain` at `target` (replaced if it exists)."""
    if target.exists():
        shutil.rmtree(target)
    boot = target / "EFI" / "BOOT"
    boot.mkdir(parents=True)
    (boot / "BOOTX64.EFI").write_bytes(chain.shim)
    (boot / "grubx64.efi").write_bytes(chain.grub)
    (target / "vmlinuz").write_bytes(chain.kernel)
    initrd_line = ""
    if initrd is not None:
        shutil.copyfile(initrd, target / "initrd")
        initrd_line = "initrd /initrd"
    (boot / "grub.cfg").write_text(
        GRUB_CONFIG.format(title=f"hilsec {chain.name}", cmdline=cmdline, initrd_line=initrd_line)
    )
    return target
