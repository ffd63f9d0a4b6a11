"""FS38-05: the device exposes only the network services its maker declares, and no plaintext login or debug service.

The scan runs from the lab side of the device's network (harness.probes.portscan: a TCP SYN scan of all
65,535 ports and a UDP scan of common ports), never from inside the device, whose own view could
hide a listener. Each open TCP port is then identified by what answers (harness.probes.service_id):
telnet, rlogin, FTP, a shell that asks for nothing or adb FAIL on any port, declared or not. The
decision lives in harness.checks.open_ports (tested both ways).
"""

from __future__ import annotations

import pytest

from harness.checks.open_ports import AnsweringService, DeclaredService, judge_open_ports
from harness.plugin.conclusions import conclude, inconclusive
from harness.probes.service_id import PLAINTEXT_LOGIN_KINDS

pytestmark = pytest.mark.requirement("FS38-05", "EN303645-5.6-1", "EN303645-5.6-4", "CLP13_8.2")


@pytest.mark.requirement(
    "TS103701-5.1-1-2a",
    "TS103701-5.1-5-2a",
    "TS103701-5.3-10-1c",
    "TS103701-5.5-5-2b",
    "TS103701-5.6-1-2b",
    "TS103701-5.13-1-2c",
)
def test_only_declared_services_listen(device, profile, evidence, service_inventory):
    """A plaintext login or debug service on any port, telnet, a known debug port, or anything
    undeclared is a FAIL naming the port and what answered."""
    if not service_inventory.available:
        inconclusive(service_inventory.why_not)
    scan = service_inventory.scan
    declared = [DeclaredService(s.name, s.protocol, int(s.port)) for s in profile.network.services]
    answering = [
        AnsweringService(s.port, s.kind, s.evidence, s.plaintext_login, PLAINTEXT_LOGIN_KINDS.get(s.kind, ""))
        for s in service_inventory.services.values()
    ]
    result = judge_open_ports(
        scan.tcp_open,
        scan.udp_open,
        declared,
        tcp_answered=scan.tcp_ports_scanned - len(scan.tcp_filtered),
        udp_open_filtered=[port for port, state in scan.udp.items() if state == "open|filtered"],
        tcp_filtered=scan.tcp_filtered,
        answering=answering,
    )
    evidence.write_text(
        "port-scan.txt",
        scan.summary()
        + service_inventory.summary()
        + f"\ndeclared: {[f'{d.protocol}/{d.port} {d.name}' for d in declared]}\n"
        + f"verdict: {result.verdict}\nreason: {result.reason}\n"
        + "".join(f"note: {note}\n" for note in result.details["notes"]),
    )
    conclude(result)
