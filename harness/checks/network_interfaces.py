"""EN 303 645 5.6-1 / TS 103 701 5.6-1-2a: each declared network interface is in its declared state.

The evidence is the device's own list of its network interfaces, read through its shell: for each
interface of /sys/class/net its flags (IFF_UP is "on": administratively enabled, whatever the
carrier), its operstate and its ARP hardware type, or, on a device without sysfs, `ip -o link`.
The addresses (`ip -o addr`) go into the findings. Loopback is not a network interface and is not
judged. Everything the device prints is untrusted: the listing is bounded, each line is read only
if it has the expected shape, and names, states and addresses must match strict patterns.

The decision:
- FAIL when an interface is on that the profile declares down or absent, or that it does not
  declare at all (`undeclared_interfaces_allowed` only lets undeclared interfaces exist disabled).
- INCONCLUSIVE when an interface declared up is off or missing: the device has less open than
  declared, which is no weakness, but the declaration (or the bench's wiring: a radio not
  connected, a cable not plugged) is wrong and the test cannot tell which, so the lab fixes the
  profile or the bench. Also INCONCLUSIVE: an undeclared interface present but off when the profile
  says no other interface exists (the declaration is incomplete), a listing that was cut or not
  printed, and a profile without `network.interfaces`.
- PASS otherwise. "down" and "absent" both mean off: an interface declared absent that is present
  but off (or declared down and absent) is a note, not a finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from harness.observations.network_interfaces import InterfaceListing, ObservedInterface
from harness.results.outcome import Measurement, Outcome

PROFILE_FIELD = "network.interfaces"


@dataclass(frozen=True)
class DeclaredInterface:
    """An interface of the profile's `network.interfaces`: its name, kind and declared state."""

    name: str
    kind: str
    state: str  # up, down or absent


@dataclass(frozen=True)
class InterfaceJudgement:
    """What the comparison found: FAIL findings, unconfirmed declarations, and notes."""

    findings: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _compare(
    declared: Sequence[DeclaredInterface], observed: dict[str, ObservedInterface], undeclared_allowed: bool
) -> InterfaceJudgement:
    result = InterfaceJudgement()
    by_name = {d.name: d for d in declared}
    for d in declared:
        seen = observed.get(d.name)
        what = f"the profile declares {d.name} ({d.kind}) {d.state}"
        if d.state == "up":
            if seen is None:
                result.unconfirmed.append(f"{d.name} is not on the device but {what}: fix {PROFILE_FIELD}")
            elif not seen.up:
                result.unconfirmed.append(f"{seen.describe()} but {what}: fix {PROFILE_FIELD} or connect it")
        elif seen is not None and seen.up:
            result.findings.append(f"{seen.describe()} but {what}")
        elif seen is not None and d.state == "absent":
            result.notes.append(f"{seen.describe()}: {what}, it is present but off")
        elif seen is None and d.state == "down":
            result.notes.append(f"{d.name} is not on the device: {what}, it is off")
    for name, seen in sorted(observed.items()):
        if name in by_name:
            continue
        if seen.up:
            result.findings.append(f"{seen.describe()} but the profile does not declare it ({PROFILE_FIELD})")
        elif not undeclared_allowed:
            result.unconfirmed.append(
                f"{seen.describe()} and the profile does not declare it: add it to {PROFILE_FIELD} "
                "(or set network.undeclared_interfaces_allowed)"
            )
        else:
            result.notes.append(f"{seen.describe()}: undeclared, allowed as it is off")
    return result


def judge_network_interfaces(
    declared: Sequence[DeclaredInterface] | None,
    listing: InterfaceListing,
    *,
    undeclared_allowed: bool = False,
) -> Outcome:
    """The 5.6-1-2a verdict: the device's interfaces against the declared ones (see the module)."""
    if declared is None:
        return Outcome.inconclusive(
            f"the profile declares no network interfaces ({PROFILE_FIELD}): nothing to compare the device's with",
            [f"profile: {PROFILE_FIELD}"],
        )
    observed = {name: i for name, i in listing.interfaces.items() if not i.loopback}
    details = {
        "source": listing.source,
        "interfaces": [asdict(i) for i in listing.interfaces.values()],
        "declared": [asdict(d) for d in declared],
        "ignored_lines": listing.ignored_lines,
        "notes": [],
    }
    if not listing.interfaces:
        problems = list(listing.problems) or [
            "the device's shell printed no interface (no /sys/class/net, no ip)"
        ]
        return Outcome.inconclusive("; ".join(problems), problems, details=details)
    result = _compare(declared, observed, undeclared_allowed)
    details["notes"] = result.notes
    judged = (
        ", ".join(f"{i.name} {'up' if i.up else 'down'}" for i in observed.values()) or "none but loopback"
    )
    return Outcome.from_findings(
        result.findings,
        missing=[*listing.problems, *result.unconfirmed],
        passed=f"every interface is in its declared state ({judged}; read from {listing.source})",
        measurements=(
            Measurement("interfaces listed", len(observed)),
            Measurement("interfaces up", sum(1 for i in observed.values() if i.up)),
        ),
        details=details,
    )
