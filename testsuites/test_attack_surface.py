"""FS38-05: the device exposes only the network services its maker declares, and no telnet or debug port.

The scan runs from the lab side of the device's network (harness.probes.portscan: a TCP SYN scan of all
65,535 ports and a UDP scan of common ports), never from inside the device, whose own view could
hide a listener. The decision lives in harness.checks.open_ports (tested both ways).
"""

from __future__ import annotations

import pytest

from harness.checks.open_ports import DeclaredService, check_open_ports
from harness.plugin.conclusions import inconclusive
from harness.probes.portscan import scan_device
from harness.results.verdicts import Verdict

pytestmark = pytest.mark.requirement("FS38-05", "EN303645-5.6-1", "EN303645-5.6-4", "CLP13_8.2")


def test_only_declared_services_listen(device, profile, evidence):
    """Any open port that is telnet, a known debug service, or undeclared is a FAIL naming the port."""
    network = device.network
    reachable, why_not = network.whole_network()
    if not reachable:
        inconclusive(why_not)
    sources = (network.bind_address, *network.scanner_addresses) if network.scanner_addresses else ("",)
    try:
        with network.lab_side():
            scan = scan_device(network.device_address, source_addresses=sources)
    except PermissionError as err:
        inconclusive(f"the scan's raw sockets need root on the lab host: {err}")
    declared = [DeclaredService(s.name, s.protocol, int(s.port)) for s in profile.network.services]
    result = check_open_ports(
        scan.tcp_open,
        scan.udp_open,
        declared,
        tcp_answered=scan.tcp_ports_scanned - len(scan.tcp_filtered),
        udp_open_filtered=[port for port, state in scan.udp.items() if state == "open|filtered"],
        tcp_filtered=scan.tcp_filtered,
    )
    evidence.write_text(
        "port-scan.txt",
        scan.summary()
        + f"\ndeclared: {[f'{d.protocol}/{d.port} {d.name}' for d in declared]}\n"
        + f"verdict: {result.verdict}\nreason: {result.reason}\n"
        + "".join(f"note: {note}\n" for note in result.notes),
    )
    if result.verdict is Verdict.INCONCLUSIVE:
        inconclusive(result.reason)
    assert result.verdict is Verdict.PASS, result.reason
