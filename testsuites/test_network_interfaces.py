"""EN 303 645 5.6-1 (TS 103 701 5.6-1-2a): each network interface the maker declares is in its declared state.

The profile's `network.interfaces` is the maker's declaration (the IXIT): each interface's name,
kind and state (up, down or absent) once the device is initialised, and whether other interfaces
may exist disabled (`network.undeclared_interfaces_allowed`, default no). The device's own list of
its interfaces is read through its shell (sysfs, or `ip -o link` where there is no sysfs) and
read by harness.observations.network_interfaces and judged by harness.checks.network_interfaces: an interface that is up but declared off, or not
declared at all, is a FAIL naming it and its addresses; loopback is not judged.
"""

from __future__ import annotations

import pytest

from harness.capabilities import ConsolePort
from harness.checks.network_interfaces import DeclaredInterface, judge_network_interfaces
from harness.observations.network_interfaces import interface_listing_command, parse_interface_listing
from harness.plugin.conclusions import conclude
from harness.util.text import bounded, visible

pytestmark = pytest.mark.requirement("FS38-05", "EN303645-5.6-1")
LISTING_TIMEOUT_S = 30.0
EVIDENCE_CHARS = 64_000


@pytest.mark.requirement("TS103701-5.6-1-2a")
def test_network_interfaces_in_declared_state(device, profile, evidence):
    """No interface is up that the profile declares down or absent, or does not declare."""
    network = profile.network
    if network.interfaces is None:
        conclude(judge_network_interfaces(None, parse_interface_listing("")))
        return
    declared = [DeclaredInterface(i.name, i.kind, i.state) for i in network.interfaces]
    device.require(ConsolePort, "read the device's network interfaces through its shell")
    output = device.run(interface_listing_command(), timeout=LISTING_TIMEOUT_S).output
    listing = parse_interface_listing(output)
    result = judge_network_interfaces(
        declared, listing, undeclared_allowed=network.undeclared_interfaces_allowed
    )
    evidence.write_text(
        "network-interfaces.txt",
        visible(bounded(output, EVIDENCE_CHARS))
        + f"\ndeclared: {[f'{d.name} ({d.kind}) {d.state}' for d in declared]}\n"
        + f"undeclared interfaces allowed: {network.undeclared_interfaces_allowed}\n"
        + f"verdict: {result.verdict}\nreason: {result.reason}\n"
        + "".join(f"note: {note}\n" for note in result.details.get("notes", [])),
    )
    conclude(result)
