"""FS38-02: does the platform refuse to run a boot image whose signature does not verify?

The evidence is the console of real boot attempts: the vendor-signed chain, then images whose
signature cannot verify (a one-byte-modified kernel behind the signed loaders, an unsigned boot
loader). A tampered image that reaches the kernel is a FAIL naming it. Refusals only count when
the signed chain boots on the same platform: a platform that boots nothing refuses everything
and proves nothing (INCONCLUSIVE). An attempt that shows neither a boot nor a refusal is
INCONCLUSIVE too.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.observations.secure_boot import BootObservation, BootOutcome, PlatformState
from harness.results.outcome import Outcome


def platform_failure(platform: PlatformState | None, signed: BootObservation | None) -> str | None:
    """Why the platform enforces nothing, whatever the profile declares: setup mode, Secure Boot
    switched off in its variables, or its own report on the console; None when none of these."""
    reasons = []
    if platform is not None and platform.setup_mode:
        reasons.append(f"the platform is in setup mode (no Platform Key enrolled in its {platform.source})")
    elif platform is not None and platform.enabled is False:
        reasons.append(f"Secure Boot is switched off (SecureBootEnable=0 in its {platform.source})")
    if signed is not None and signed.secure_boot_off_line:
        reasons.append(f"the platform reports {signed.secure_boot_off_line!r} on its console")
    return "; ".join(reasons) or None


def judge_secure_boot(
    signed: BootObservation,
    tampered: Sequence[tuple[str, BootObservation]],
    platform: PlatformState | None = None,
) -> Outcome:
    """The verdict from the platform's state, the signed chain's attempt and each unverifiable
    image's attempt. A platform that does not enforce FAILs whatever the images did."""
    off = platform_failure(platform, signed)
    if off:
        booted = [name for name, seen in tampered if seen.outcome is BootOutcome.BOOTED]
        also = f"; unverifiable images booted: {', '.join(booted)}" if booted else ""
        findings = [f"secure boot is not enforced: {off}"] + [
            f"unverifiable image {name} booted" for name in booted
        ]
        return Outcome.failed(findings, f"secure boot is not enforced: {off}{also}")
    if not tampered:
        return Outcome.inconclusive(
            "no image with an unverifiable signature was tried", ["a boot attempt with an unverifiable image"]
        )
    booted = [f"{name} ({seen.line})" for name, seen in tampered if seen.outcome is BootOutcome.BOOTED]
    if booted:
        return Outcome.failed(booted, "image(s) whose signature does not verify booted: " + "; ".join(booted))
    if signed.outcome is not BootOutcome.BOOTED:
        what = f"it was refused: {signed.line}" if signed.line else "no kernel output within the time limit"
        return Outcome.inconclusive(
            f"the signed boot chain did not boot ({what}), so refusals prove nothing",
            ["a boot of the signed chain on the same platform"],
        )
    undecided = [name for name, seen in tampered if seen.outcome is BootOutcome.UNDECIDED]
    if undecided:
        return Outcome.inconclusive(
            "neither a boot nor a refusal on the console for: " + ", ".join(undecided),
            [f"a boot or a refusal on the console for {name}" for name in undecided],
        )
    refused = "; ".join(f"{name} refused ({seen.line})" for name, seen in tampered)
    return Outcome.passed(f"signed chain booted ({signed.line}); {refused}")
