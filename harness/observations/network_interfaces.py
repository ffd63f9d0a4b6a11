"""The device's own list of its network interfaces, read through its shell (untrusted text).

For each interface of /sys/class/net: its flags (IFF_UP is "on": administratively enabled,
whatever the carrier), its operstate and its ARP hardware type, or, on a device without sysfs,
`ip -o link`; the addresses from `ip -o addr`. The listing is bounded, each line is read only if it
has the expected shape, and names, states and addresses must match strict patterns. The verdict
is harness.checks.network_interfaces's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.util.text import bounded, one_line

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
