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
from dataclasses import asdict, dataclass
from typing import Any

from harness.analysis.usb import COMPANION_KINDS, KINDS, ClassifiedInterface, UsbDevice, classify
from harness.results.outcome import Outcome


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


def disallowed_functions(
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


def _interface_facts(device: UsbDevice, interface: ClassifiedInterface) -> dict[str, Any]:
    return {
        "device": device.usb_id,
        **asdict(interface),
        "debug": interface.debug,
        "description": interface.description,
    }


def judge_usb_interfaces(
    vendor_id: int,
    product_id: int,
    allowed_kinds: Collection[str],
    attached: tuple[Sequence[UsbDevice], str],
    *,
    declared: Mapping[int, str] | None = None,
) -> Outcome:
    """The FS38-05 USB verdict for the device with this ID, among the `attached` devices the lab host
    sees (the devices, and why there are none when the host cannot list any).

    INCONCLUSIVE when the device is not attached (or pyusb cannot see USB at all), with the
    reason: the profile says the device has USB, so a debug function there is unexamined, not
    absent (a device without USB is NOT_APPLICABLE from its profile's features, before this
    check); FAIL with one finding per disallowed interface; PASS otherwise. The details list every
    classified interface (`interfaces`) and each disallowed one (`disallowed`).
    """
    wanted = f"{vendor_id:04x}:{product_id:04x}"
    devices, problem = attached
    matching = [dev for dev in devices if (dev.vendor_id, dev.product_id) == (vendor_id, product_id)]
    if not matching:
        seen = f"{len(devices)} other USB device(s) attached" if devices else "no USB devices visible"
        why = f": {problem}" if problem else ""
        return Outcome.inconclusive(
            f"USB device {wanted} is not attached to the lab host ({seen}{why})",
            missing=[f"USB device {wanted} on the lab host: connect the device's USB port to the lab host, "
                     "or declare features.usb: false with the reason"],
            details={"interfaces": [], "disallowed": []},
        )  # fmt: skip
    findings = [finding for dev in matching for finding in disallowed_functions(dev, allowed_kinds, declared)]
    classified = [(dev, interface) for dev in matching for interface in classify(dev, declared)]
    details = {
        "interfaces": [_interface_facts(dev, interface) for dev, interface in classified],
        "disallowed": [asdict(f) for f in findings],
    }
    if findings:
        debug = sum(1 for f in findings if f.debug)
        return Outcome.failed(
            [str(f) for f in findings],
            f"{wanted} exposes {len(findings)} USB function(s) the profile does not allow ({debug} debug): "
            + "; ".join(str(f) for f in findings),
            details=details,
        )
    kinds = ", ".join(sorted({interface.kind for _, interface in classified} - COMPANION_KINDS)) or "none"
    return Outcome.passed(f"{wanted} exposes only allowed USB functions ({kinds})", details=details)
