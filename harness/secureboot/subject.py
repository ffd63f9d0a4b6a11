"""Exercise one emulated platform: boot the signed chain and each unverifiable image, observe each.

This is what a lab does with an emulated platform's firmware: the same firmware settings, the
vendor-signed chain as the control, then a tampered kernel and an unsigned boot loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.checks.secure_boot import BootObservation, is_decisive, observe_boot
from harness.secureboot import tamper
from harness.secureboot.boot import BootAttempt, boot_esp
from harness.secureboot.components import BootComponents
from harness.secureboot.esp import BootChain, assemble_esp
from harness.secureboot.firmware import FirmwareMode, firmware_files

KERNEL_CMDLINE = "console=ttyS0,115200 panic=-1"


@dataclass(frozen=True)
class AttemptRecord:
    chain: BootChain
    attempt: BootAttempt
    observation: BootObservation


def boot_chains(components: BootComponents) -> tuple[BootChain, list[BootChain]]:
    """The signed control chain and the chains whose signature must not verify."""
    shim, grub, kernel = (
        components.shim.read_bytes(),
        components.grub.read_bytes(),
        components.kernel.read_bytes(),
    )
    signed = BootChain("signed", "Debian's signed shim, GRUB and kernel", shim, grub, kernel, True)
    modified, offset = tamper.modify_kernel(kernel)
    tampered = [
        BootChain(
            "modified-kernel",
            f"signed shim and GRUB, kernel with one byte changed at offset {offset}",
            shim, grub, modified, False,
        ),
        BootChain(
            "unsigned-bootloader",
            "shim with its Authenticode signature removed, then signed GRUB and kernel",
            tamper.strip_signature(shim), grub, kernel, False,
        ),
    ]  # fmt: skip
    return signed, tampered


def exercise(
    components: BootComponents,
    mode: FirmwareMode,
    workdir: Path,
    *,
    initrd: Path | None,
    timeout: float,
    progress: Callable[[str], None] = lambda line: None,
) -> tuple[AttemptRecord, list[AttemptRecord]]:
    """Boot every chain under the firmware `mode`; consoles land in workdir/<chain>.console.log."""
    signed, tampered = boot_chains(components)
    records = []
    for chain in (signed, *tampered):
        # Only the control needs a userland; a tampered kernel counts as booted once it runs,
        # and GRUB would spend seconds reading an initrd before starting it.
        chain_initrd = initrd if chain is signed else None
        esp = assemble_esp(chain, workdir / "esp", initrd=chain_initrd, cmdline=KERNEL_CMDLINE)
        firmware = firmware_files(components.ovmf_dir, mode, workdir)
        want_login = chain_initrd is not None
        progress(f"secure boot ({mode.value}): booting {chain.name}")
        attempt = boot_esp(
            firmware,
            esp,
            workdir / f"{chain.name}.console.log",
            stop_when=lambda text, want=want_login: is_decisive(text, want_login=want),
            timeout=timeout,
        )
        seen = observe_boot(attempt.console)
        progress(
            f"secure boot ({mode.value}): {chain.name} {seen.outcome.value} after {attempt.seconds:.1f} s"
        )
        records.append(AttemptRecord(chain, attempt, seen))
    return records[0], records[1:]
