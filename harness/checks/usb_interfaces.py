"""FS38-05: which USB functions does the device expose, and does the production profile allow them?

A production device should expose only the USB functions it is sold for. DFU, ADB, fastboot,
the diagnostic (DM/QXDM) port of a cellular module and a JTAG/SWD probe interface give firmware
download, a shell, or memory access: each one the profile does not allow is a debug finding.
Every other undeclared function (a serial console, mass storage, a vendor interface nobody
can name) is attack surface too and is reported the same way, without the debug flag.

What each interface is comes from harness.analysis.usb (plain descriptor values); the devices the
lab host sees are read by the bench's UsbAttachment driver (pyusb) and handed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.analysis.usb import COMPANION_KINDS, KINDS, Finding, UsbDevice, classify
from harness.results.verdicts import Verdict


@dataclass(frozen=True)
class UsbFinding:
    """An interface the profile does not allow: what it is and why it matters."""

    device: str
    interface: int
    kind: str
    description: str
    debug: bool

    def __str__(self) -> str:
        what = "debug interface" if self.debug else "undeclared USB function"
        return f"{self.device} interface {self.interface}: {what}: {self.description} (kind {self.kind!r})"


def unknown_kinds(kinds: Iterable[str]) -> list[str]:
    """Kind ids a profile names that the harness does not know (a typo would allow nothing)."""
    return sorted(set(kinds) - set(KINDS))


def assess_usb(
    device: UsbDevice, allowed_kinds: Collection[str], declared: Mapping[int, str] | None = None
) -> list[UsbFinding]:
    """Findings for each interface whose kind the profile does not allow (one per interface number).

    CDC data interfaces are judged through their control interface and never reported alone.
    """
    unknown = unknown_kinds(allowed_kinds)
    if unknown:
        raise ValueError(f"unknown USB interface kind(s) {unknown}; known: {', '.join(KINDS)}")
    findings: dict[tuple[int, str], UsbFinding] = {}
    for finding in classify(device, declared):
        if finding.kind in allowed_kinds or finding.kind in COMPANION_KINDS:
            continue
        key = (finding.interface, finding.kind)
        findings.setdefault(
            key,
            UsbFinding(device.usb_id, finding.interface, finding.kind, finding.description, finding.debug),
        )
    return sorted(findings.values(), key=lambda f: (not f.debug, f.interface))


@dataclass
class UsbAssessment:
    verdict: Verdict
    reason: str
    findings: list[UsbFinding] = field(default_factory=list)
    classified: list[Finding] = field(default_factory=list)


def check_usb_interfaces(
    vendor_id: int,
    product_id: int,
    allowed_kinds: Collection[str],
    attached: tuple[Sequence[UsbDevice], str],
    *,
    declared: Mapping[int, str] | None = None,
) -> UsbAssessment:
    """The FS38-05 USB verdict for the device with this ID, among the `attached` devices the lab host
    sees (the devices, and why there are none when the host cannot list any).

    NOT_APPLICABLE when the device is not attached (or pyusb cannot see USB at all), with the
    reason; FAIL with one finding per disallowed interface; PASS otherwise.
    """
    wanted = f"{vendor_id:04x}:{product_id:04x}"
    devices, problem = attached
    matching = [dev for dev in devices if (dev.vendor_id, dev.product_id) == (vendor_id, product_id)]
    if not matching:
        seen = f"{len(devices)} other USB device(s) attached" if devices else "no USB devices visible"
        why = f": {problem}" if problem else ""
        return UsbAssessment(
            Verdict.NOT_APPLICABLE, f"USB device {wanted} is not attached to the lab host ({seen}{why})"
        )
    findings = [finding for dev in matching for finding in assess_usb(dev, allowed_kinds, declared)]
    classified = [finding for dev in matching for finding in classify(dev, declared)]
    if findings:
        debug = sum(1 for f in findings if f.debug)
        return UsbAssessment(
            Verdict.FAIL,
            f"{wanted} exposes {len(findings)} USB function(s) the profile does not allow ({debug} debug): "
            + "; ".join(str(f) for f in findings),
            findings,
            classified,
        )
    kinds = ", ".join(sorted({f.kind for f in classified} - COMPANION_KINDS)) or "none"
    return UsbAssessment(
        Verdict.PASS, f"{wanted} exposes only allowed USB functions ({kinds})", [], classified
    )
