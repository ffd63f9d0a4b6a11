"""UEFI Secure Boot on an emulated platform: Debian's OVMF, shim, GRUB and a signed kernel.

`components` fetches the real signed binaries, `tamper` derives images whose signature no longer
verifies, `esp` lays out an EFI system partition and `boot` powers QEMU on with that firmware and
records what the console shows (read by `harness.analysis.boot_console`). The verdict itself is
`harness.checks.secure_boot`.
"""

from harness.secureboot.boot import BootAttempt, boot_esp
from harness.secureboot.components import BootComponents, fetch_components
from harness.secureboot.esp import BootChain, assemble_esp
from harness.secureboot.firmware import FirmwareMode, firmware_files

__all__ = [
    "BootAttempt",
    "BootChain",
    "BootComponents",
    "FirmwareMode",
    "assemble_esp",
    "boot_esp",
    "fetch_components",
    "firmware_files",
]
