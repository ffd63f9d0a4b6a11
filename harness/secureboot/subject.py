"""Exercise one emulated platform: boot the signed chain and each unverifiable image, observe each.

This is what a lab does with an emulated platform's firmware: the same firmware settings, the
vendor-signed chain as the control, then a tampered kernel and an unsigned boot loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.boot_console import is_decisive, observe_boot
from harness.observations.secure_boot import BootObservation
from harness.secureboot import tamper
from harness.secureboot.boot import BootAttempt, boot_esp
from harness.secureboot.components import BootComponents
from harness.secureboot.esp import BootChain, assemble_esp
from harness.secureboot.firmware import FirmwareMode, firmware_for

KERNEL_CMDLINE = "console=ttyS0,115200 panic=-1"


@dataclass(frozen=True)
class AttemptRecord:
    chain: BootChain
    attempt: BootAttempt
    observation: BootObservation


@dataclass(frozen=True)
class DeviceImages:
    """The device's own boot images and firmware, where the profile names them (None: Debian's)."""

    loader: Path | None = None
    stage2: Path | None = None
    kernel: Path | None = None
    firmware: Path | None = None
    variables: Path | None = None

    @property
    def named(self) -> list[str]:
        return [
            name for name in ("loader", "stage2", "kernel", "firmware", "variables") if getattr(self, name)
        ]


def boot_chains(
    components: BootComponents, images: DeviceImages = DeviceImages()
) -> tuple[BootChain, list[BootChain]]:
    """The signed control chain and the chains whose signature must not verify, derived from the
    device's own images where the profile names them."""
    shim, grub, kernel = (
        (images.loader or components.shim).read_bytes(),
        (images.stage2 or components.grub).read_bytes(),
        (images.kernel or components.kernel).read_bytes(),
    )
    whose = "the device's" if images.loader or images.stage2 or images.kernel else "Debian's"
    signed = BootChain(
        "signed", f"{whose} signed boot loader, second stage and kernel", shim, grub, kernel, True
    )
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
    images: DeviceImages = DeviceImages(),
    tampered_too: bool = True,
) -> tuple[AttemptRecord, list[AttemptRecord]]:
    """Boot every chain under the firmware `mode` (the device's own firmware and variable store
    where named); consoles land in workdir/<chain>.console.log. `tampered_too` False: the signed
    chain only (the platform was already found not to enforce)."""
    signed, tampered = boot_chains(components, images)
    records = []
    for chain in (signed, *(tampered if tampered_too else [])):
        # Only the control needs a userland; a tampered kernel counts as booted once it runs,
        # and GRUB would spend seconds reading an initrd before starting it.
        chain_initrd = initrd if chain is signed else None
        esp = assemble_esp(chain, workdir / "esp", initrd=chain_initrd, cmdline=KERNEL_CMDLINE)
        firmware = firmware_for(
            components.ovmf_dir, mode, workdir, code=images.firmware, variables=images.variables
        )
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
