"""FS38-02: the device refuses to boot an image whose signature does not verify.

How secure boot is exercised is the profile's `secure_boot` section:
- `uefi-ovmf` (an emulated platform): real UEFI Secure Boot with Debian's OVMF, shim, GRUB and
  signed kernel. The harness boots the signed chain (the control: it must boot), a kernel with one
  byte changed and an unsigned boot loader (each must be refused). `enforce` says whether the
  platform's firmware has Secure Boot keys enrolled and enforced. The QEMU reference device itself
  boots with -kernel (no firmware verification at all), so its profiles point here.
- `u-boot-fit`: a U-Boot board's verified boot, through the bench path: the bench writes each FIT
  (lab config `boot_media`) and powers the board on watching its console. The board's own signed
  FIT is the control; the same FIT unsigned, re-signed with a key the board does not hold, and
  with an image changed (hash recomputed, signature kept) must each be refused.
- `declared`: a board whose maker declares the mechanism, its root of trust and evidence that an
  unsigned image is refused; missing evidence is INCONCLUSIVE naming the field, never PASS.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from harness.checks.secure_boot import judge_secure_boot, platform_failure
from harness.plugin.conclusions import conclude, inconclusive

pytestmark = pytest.mark.requirement("FS38-02", "EN303645-5.7-1", "CLP13_6.11", "CLP13_6.15")


def _initrd(profile, firmware) -> Path | None:
    """The device's own userland for the signed boot: explicit, or the initrd the device boots."""
    settings = profile.secure_boot
    if settings.initrd is not None:
        return Path(settings.initrd)
    return firmware.initrd


def _declared(settings) -> None:
    missing = [name for name in ("mechanism", "root_of_trust") if not getattr(settings, name)]
    if not settings.evidence:
        missing.append("evidence")
    if missing:
        inconclusive("secure_boot is declared without " + ", ".join(f"secure_boot.{m}" for m in missing))


def _emulated(profile, lab, firmware, evidence) -> None:
    from harness.secureboot import FirmwareMode, fetch_components
    from harness.secureboot.firmware import variable_store_template
    from harness.secureboot.subject import DeviceImages, exercise
    from harness.secureboot.tamper import NotAPeImage
    from harness.secureboot.varstore import read_platform

    settings = profile.secure_boot
    cache = getattr(lab, "image_cache", None)
    components = fetch_components(Path(cache) if cache else None)
    mode = FirmwareMode.ENFORCING if settings.enforce else FirmwareMode.NOT_ENFORCING
    images = DeviceImages(
        loader=settings.loader,
        stage2=settings.stage2,
        kernel=settings.kernel,
        firmware=settings.firmware,
        variables=settings.variables,
    )
    store = (
        Path(settings.variables) if settings.variables else variable_store_template(components.ovmf_dir, mode)
    )
    platform = read_platform(store)
    try:
        signed, tampered = exercise(
            components,
            mode,
            evidence.dir / "boots",
            initrd=_initrd(profile, firmware),
            timeout=settings.boot_timeout_s,
            images=images,
            tampered_too=platform_failure(platform, None) is None,  # already decided: boot only the control
        )
    except (NotAPeImage, ValueError) as err:
        inconclusive(f"cannot derive unverifiable images from the device's own: {err}")
    evidence.write_json(
        "secure-boot.json",
        {
            "firmware": mode.value,
            "device_files": {name: str(getattr(images, name)) for name in images.named},
            "platform": asdict(platform),
            "packages": list(components.packages),
            "attempts": [
                {
                    "chain": record.chain.name,
                    "description": record.chain.description,
                    "outcome": record.observation.outcome.value,
                    "console_line": record.observation.line,
                    "reached_login": record.observation.reached_login,
                    "secure_boot_reported": record.observation.secure_boot_reported,
                    "secure_boot_off_reported": record.observation.secure_boot_off_line,
                    "seconds": round(record.attempt.seconds, 1),
                    "console": str(record.attempt.log_path.relative_to(evidence.dir)),
                }
                for record in (signed, *tampered)
            ],
            "qemu": signed.attempt.command,
        },
    )
    if not platform.readable:
        inconclusive(f"the {platform.source} cannot be read ({platform.problem}): is it the device's?")
    conclude(
        judge_secure_boot(signed.observation, [(r.chain.name, r.observation) for r in tampered], platform)
    )


def _uboot_fit(device, settings, evidence) -> None:
    """The board's own signed FIT boots; the FITs derived from it that must not verify do not."""
    from harness.probes.fit_boot import boot_each
    from harness.secureboot.fit import derive_variants

    own = Path(settings.fit_image)
    try:
        variants = derive_variants(own, evidence.dir / "fit", Path(device.workdir) / "fit-untrusted-keys")
    except ValueError as err:
        inconclusive(f"cannot derive unverifiable FIT images from the device's {own.name}: {err}")
    attempts = boot_each(device, variants, own, settings.boot_timeout_s)
    for attempt in attempts:
        evidence.write_text(f"fit/{attempt.variant.name}.console.log", attempt.console)
    evidence.write_json(
        "secure-boot.json",
        {
            "method": "u-boot-fit",
            "fit_image": str(own),
            "attempts": [
                {
                    "image": a.variant.name,
                    "description": a.variant.description,
                    "outcome": a.observation.outcome.value,
                    "console_line": a.observation.line,
                    "console": f"fit/{a.variant.name}.console.log",
                }
                for a in attempts
            ],
        },
    )
    signed, *tampered = attempts
    conclude(judge_secure_boot(signed.observation, [(a.variant.name, a.observation) for a in tampered]))


@pytest.mark.requirement("TS103701-5.7-1-2a")
def test_unverified_boot_image_is_refused(profile, lab, request, evidence):
    """A tampered kernel and an unsigned boot loader do not boot; the signed chain does."""
    settings = profile.secure_boot
    if settings is None:
        if profile.features.has("secure_boot") is False:
            reason = profile.features.reasons.get("secure_boot", "the profile declares no secure boot")
            pytest.fail(f"the device has no secure boot: {reason}")
        inconclusive("the profile has no secure_boot section saying how secure boot is exercised")
    if settings.method == "declared":
        _declared(settings)
        return
    if settings.method == "u-boot-fit":  # the board is driven from power-on: no login needed
        _uboot_fit(request.getfixturevalue("unbooted_device"), settings, evidence)
        return
    firmware = None if settings.initrd is not None else request.getfixturevalue("firmware")
    _emulated(profile, lab, firmware, evidence)
