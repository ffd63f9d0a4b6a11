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

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from harness.results.outcome import Measurement, Outcome
from harness.util.text import bounded, one_line

PROFILE_FIELD = "network.interfaces"
MAX_LISTING_CHARS = 256_000  # far more than any device's interface list; the rest is ignored
MAX_INTERFACES = 512
MAX_LINE_CHARS = 1_000
MAX_ADDRESSES = 16  # per interface
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
ARPHRD_LOOPBACK = 772
BEGIN = "HILSEC-INTERFACES-BEGIN"
END = "HILSEC-INTERFACES-END"

_NAME = r"[A-Za-z0-9_.@-]{1,15}"  # IFNAMSIZ: at most 15 characters; Linux forbids space, "/" and ":"
_LINK_NAME = r"[A-Za-z0-9_.-]{1,15}"  # in `ip -o link`, "@" starts the parent's name (eth0.10@eth0)
_SYSFS_LINE = re.compile(rf"sysfs ({_NAME}) (0x[0-9a-fA-F]{{1,8}}) ?([a-z]{{0,20}}) ?(\d{{0,6}})")
# iproute2 and busybox: "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ... state UP ..."
_IP_LINK_LINE = re.compile(rf"\d{{1,10}}: ({_LINK_NAME})(?:@{_NAME})?: <([A-Z0-9_,-]{{0,200}})>(.*)")
_IP_STATE = re.compile(r"\bstate ([A-Z]{1,20})\b")
_IP_ADDR_LINE = re.compile(rf"\d{{1,10}}: ({_NAME})\s+inet6? ([0-9a-fA-F:.]{{2,45}}/\d{{1,3}})\b")


def interface_listing_command() -> str:
    """A POSIX shell command (busybox ash or bash) printing the device's interfaces between markers.

    Each sysfs interface is a line `sysfs NAME FLAGS OPERSTATE TYPE`; `ip -o link` is printed when
    /sys/class/net has none, and `ip -o addr` always. The markers are printed with printf so the
    console's echo of the command itself never contains them.
    """
    return (
        f"printf '%s-%s\\n' {BEGIN.rsplit('-', 1)[0]} BEGIN; n=0; "
        'for d in /sys/class/net/*; do [ -r "$d/flags" ] || continue; n=$((n+1)); '
        'echo "sysfs ${d##*/} $(cat "$d/flags" 2>/dev/null) $(cat "$d/operstate" 2>/dev/null) '
        '$(cat "$d/type" 2>/dev/null)"; done; '
        '[ "$n" -gt 0 ] || ip -o link 2>/dev/null; ip -o addr 2>/dev/null; '
        f"printf '%s-%s\\n' {END.rsplit('-', 1)[0]} END"
    )


@dataclass(frozen=True)
class ObservedInterface:
    """One interface as the device lists it."""

    name: str
    up: bool  # administratively enabled (IFF_UP), with or without a carrier
    operstate: str  # the kernel's operstate (up, down, unknown, dormant...), "" when not printed
    loopback: bool
    addresses: tuple[str, ...] = ()

    def describe(self) -> str:
        state = "up" if self.up else "down"
        extra = [f"operstate {self.operstate}"] if self.operstate else []
        if self.addresses:
            extra.append("address " + ", ".join(self.addresses))
        return f"{self.name} is {state}" + (f" ({'; '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class InterfaceListing:
    """The device's interfaces (by name), how they were read, and whether the listing is whole."""

    interfaces: dict[str, ObservedInterface]
    source: str  # "sysfs", "ip -o link", or "" when neither printed anything
    complete: bool  # both markers seen, nothing cut
    ignored_lines: int = 0  # lines between the markers of no known shape
    problems: tuple[str, ...] = ()


def _between_markers(text: str) -> tuple[list[str], list[str]]:
    """(the lines between the markers, problems reading them), bounded."""
    problems: list[str] = []
    if len(text) > MAX_LISTING_CHARS:
        problems.append(f"the listing was cut at {MAX_LISTING_CHARS} characters (it had {len(text)})")
        text = text[:MAX_LISTING_CHARS]
    lines = [line.strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line == BEGIN), None)
    if start is None:
        return [], [*problems, "the device printed no interface listing (its start marker is missing)"]
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == END), None)
    if end is None:
        problems.append("the interface listing has no end marker (cut or interrupted)")
        end = len(lines)
    return [line[:MAX_LINE_CHARS] for line in lines[start + 1 : end]], problems


def parse_interface_listing(text: str) -> InterfaceListing:
    """The interfaces in the output of `interface_listing_command()` (untrusted device text)."""
    lines, problems = _between_markers(text)
    sysfs: dict[str, ObservedInterface] = {}
    ip_link: dict[str, ObservedInterface] = {}
    addresses: dict[str, list[str]] = {}
    ignored = 0
    for line in lines:
        if match := _SYSFS_LINE.fullmatch(line):
            name, flags, operstate, kind = match.groups()
            bits = int(flags, 16)
            loopback = bool(bits & IFF_LOOPBACK) or kind == str(ARPHRD_LOOPBACK)
            sysfs.setdefault(name, ObservedInterface(name, bool(bits & IFF_UP), operstate, loopback))
        elif match := _IP_LINK_LINE.match(line):
            name, flags, rest = match.groups()
            state = _IP_STATE.search(rest)
            names = set(flags.split(","))
            ip_link.setdefault(
                name,
                ObservedInterface(
                    name, "UP" in names, state.group(1).lower() if state else "", "LOOPBACK" in names
                ),
            )
        elif match := _IP_ADDR_LINE.match(line):
            addresses.setdefault(match.group(1), []).append(match.group(2))
        elif line.startswith("sysfs "):
            problems.append(f"an interface line the harness cannot read: {one_line(bounded(line, 120))}")
        elif line:
            ignored += 1
    source, found = ("sysfs", sysfs) if sysfs else ("ip -o link", ip_link) if ip_link else ("", {})
    if len(found) > MAX_INTERFACES:
        problems.append(
            f"the device listed {len(found)} interfaces; only the first {MAX_INTERFACES} were judged"
        )
        found = dict(list(found.items())[:MAX_INTERFACES])
    interfaces = {
        name: ObservedInterface(
            i.name,
            i.up,
            i.operstate,
            i.loopback,
            tuple(dict.fromkeys(addresses.get(name, [])))[:MAX_ADDRESSES],
        )
        for name, i in found.items()
    }
    return InterfaceListing(
        interfaces, source, complete=not problems, ignored_lines=ignored, problems=tuple(problems)
    )


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
