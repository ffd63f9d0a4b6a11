"""The FS38-02 decision from boot consoles, and the image tampering, both ways (no QEMU)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from support import uefi_stores

from harness.analysis.boot_console import is_decisive, observe_boot
from harness.checks.secure_boot import judge_secure_boot, platform_failure
from harness.observations.secure_boot import BootOutcome, PlatformState
from harness.results.verdicts import Verdict
from harness.secureboot import tamper
from harness.secureboot.varstore import read_platform

SIGNED_CONSOLE = (
    "BdsDxe: starting Boot0001\nWelcome to GRUB!\nEFI stub: UEFI Secure Boot is enabled.\n"
    "[    0.000000] Linux version 6.1.0-56-cloud-amd64\n[    0.0] secureboot: Secure boot enabled\n"
    "hilsec-ref login: "
)
BAD_KERNEL_CONSOLE = (
    "Welcome to GRUB!\nerror: bad shim signature.\nerror: you need to load the kernel first.\n"
)
UNSIGNED_SHIM_CONSOLE = (
    'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0): Access Denied\n'
    "BdsDxe: No bootable option or device was found.\n"
)
TAMPERED_BOOTED_CONSOLE = "Welcome to GRUB!\nBooting in blind mode\n[    0.000000] Linux version 6.1.0\n"


def test_signed_console_is_a_boot_to_login():
    seen = observe_boot(SIGNED_CONSOLE)
    assert seen.outcome is BootOutcome.BOOTED and seen.reached_login and seen.secure_boot_reported


@pytest.mark.parametrize("console", [BAD_KERNEL_CONSOLE, UNSIGNED_SHIM_CONSOLE])
def test_refusals_are_recognised(console):
    assert observe_boot(console).outcome is BootOutcome.REFUSED
    assert is_decisive(console, want_login=False)


def test_kernel_output_after_a_complaint_counts_as_booted():
    assert observe_boot(BAD_KERNEL_CONSOLE + "[    0.0] Linux version 6.1.0\n").outcome is BootOutcome.BOOTED


def test_silence_is_undecided_and_a_kernel_without_login_is_not_yet_decisive():
    assert observe_boot("BdsDxe: loading Boot0001\n").outcome is BootOutcome.UNDECIDED
    assert not is_decisive("EFI stub: x\n", want_login=True)
    assert is_decisive("EFI stub: x\n", want_login=False)


def test_refused_tampered_images_pass():
    result = judge_secure_boot(
        observe_boot(SIGNED_CONSOLE),
        [
            ("modified-kernel", observe_boot(BAD_KERNEL_CONSOLE)),
            ("unsigned", observe_boot(UNSIGNED_SHIM_CONSOLE)),
        ],
    )
    assert result.verdict is Verdict.PASS, result.reason


def test_a_booting_tampered_image_fails_and_is_named():
    result = judge_secure_boot(
        observe_boot(SIGNED_CONSOLE), [("modified-kernel", observe_boot(TAMPERED_BOOTED_CONSOLE))]
    )
    assert result.verdict is Verdict.FAIL and "modified-kernel" in result.reason


def test_refusals_without_a_booting_signed_chain_prove_nothing():
    result = judge_secure_boot(
        observe_boot(UNSIGNED_SHIM_CONSOLE), [("modified-kernel", observe_boot(BAD_KERNEL_CONSOLE))]
    )
    assert result.verdict is Verdict.INCONCLUSIVE


def test_an_undecided_tampered_attempt_is_inconclusive():
    result = judge_secure_boot(
        observe_boot(SIGNED_CONSOLE), [("modified-kernel", observe_boot("BdsDxe: loading\n"))]
    )
    assert result.verdict is Verdict.INCONCLUSIVE and "modified-kernel" in result.reason


def _fake_signed_pe(with_bzimage_header: bool = True) -> bytes:
    """A minimal PE32+ layout with a certificate table at the end (a test stand-in, not a real image)."""
    data = bytearray(0x600)
    data[:2] = b"MZ"
    struct.pack_into("<I", data, 0x3C, 0x80)
    data[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", data, 0x80 + 24, 0x20B)
    if with_bzimage_header:
        data[0x202:0x206] = b"HdrS"
        struct.pack_into("<H", data, 0x20E, 0x300)
        data[0x500:0x510] = b"6.1.0-56-cloud\0\0"
    certificate = b"\x30\x82" + b"C" * 62
    struct.pack_into("<II", data, 0x80 + 24 + 112 + 8 * 4, len(data), len(certificate))
    return bytes(data) + certificate


def test_strip_signature_removes_the_certificate_table():
    signed = _fake_signed_pe()
    assert tamper.is_signed(signed)
    stripped = tamper.strip_signature(signed)
    assert not tamper.is_signed(stripped) and len(stripped) == len(signed) - 64


def test_modify_kernel_changes_exactly_one_byte_of_the_version_string():
    original = _fake_signed_pe()
    modified, offset = tamper.modify_kernel(original)
    assert offset == 0x500
    assert [i for i in range(len(original)) if original[i] != modified[i]] == [offset]


def test_non_pe_data_is_rejected():
    with pytest.raises(tamper.NotAPeImage):
        tamper.strip_signature(b"\x7fELF" + b"\0" * 100)
    with pytest.raises(tamper.NotAPeImage):
        tamper.modify_kernel(_fake_signed_pe(with_bzimage_header=False))


# --- the platform's own state: setup mode, Secure Boot switched off, its console report --------------

ENFORCING = PlatformState(
    "variable store device.fd", setup_mode=False, enabled=True, enrolled=("PK", "KEK", "db")
)
SIGNED_BOOT = observe_boot("EFI stub: UEFI Secure Boot is enabled.\nLinux version 6.1\nlogin: ")
REFUSED = [
    ("modified-kernel", observe_boot("bad shim signature")),
    ("unsigned-bootloader", observe_boot("Access Denied")),
]


def test_enforcing_platform_with_refusals_passes() -> None:
    assert judge_secure_boot(SIGNED_BOOT, REFUSED, ENFORCING).verdict is Verdict.PASS


@pytest.mark.parametrize(
    ("platform", "words"),
    [
        (PlatformState("variable store v.fd", setup_mode=True), "setup mode"),
        (
            PlatformState("variable store v.fd", setup_mode=False, enabled=False, enrolled=("PK",)),
            "SecureBootEnable=0",
        ),
    ],
)
def test_platform_that_does_not_enforce_fails_even_when_images_are_refused(platform, words) -> None:
    result = judge_secure_boot(SIGNED_BOOT, REFUSED, platform)
    assert result.verdict is Verdict.FAIL and words in result.reason


def test_platform_reporting_secure_boot_disabled_fails() -> None:
    signed = observe_boot("[    0.000000] secureboot: Secure boot disabled\nLinux version 6.1\nlogin: ")
    result = judge_secure_boot(signed, REFUSED, ENFORCING)
    assert result.verdict is Verdict.FAIL and "Secure boot disabled" in result.reason
    assert platform_failure(ENFORCING, SIGNED_BOOT) is None


def test_platform_not_enforcing_and_tampered_boot_names_both() -> None:
    booted = [("modified-kernel", observe_boot("Linux version 6.1 (modified)"))]
    result = judge_secure_boot(SIGNED_BOOT, booted, PlatformState("variable store v.fd", setup_mode=True))
    assert (
        result.verdict is Verdict.FAIL
        and "setup mode" in result.reason
        and "modified-kernel" in result.reason
    )


HOST_OVMF = Path("/usr/share/OVMF")  # Debian package ovmf (Makefile APT_PACKAGES)


def test_variable_stores_are_read_for_setup_mode_and_secure_boot_enable(tmp_path: Path) -> None:
    enrolled = read_platform(HOST_OVMF / uefi_stores.ENROLLED_STORE)
    assert enrolled.readable and not enrolled.setup_mode and enrolled.enabled is True
    assert {"PK", "KEK", "db"} <= set(enrolled.enrolled)
    empty = read_platform(uefi_stores.setup_mode_store(HOST_OVMF))
    assert empty.readable and empty.setup_mode
    disabled = read_platform(uefi_stores.disabled_store(HOST_OVMF, tmp_path / "disabled.fd"))
    assert disabled.readable and not disabled.setup_mode and disabled.enabled is False
    junk = tmp_path / "junk.fd"
    junk.write_bytes(b"\x00" * 4096)
    assert not read_platform(junk).readable
