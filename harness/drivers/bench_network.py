"""A bench device on the lab LAN: its own address, the lab's servers, the lab LAN's namespace.

The profile says where the device is (`network.address`); the lab config says where the lab's
servers listen and what address the device is configured to send to (`servers`), and which
network namespace the lab LAN is in, if any (`network.namespace`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harness.capabilities import LabAddressing
from harness.device.registry import BuildContext, provides
from harness.lab.side import LabSide


class BenchAddressing(LabAddressing):
    def __init__(self, device_address: str, bind_address: str, facing: str, namespace: str | None) -> None:
        self.device_address = device_address
        self.bind_address = bind_address
        self.device_facing_address = facing
        self.scanner_addresses = ()
        self.side = LabSide(namespace)
        where = f" in {self.side.describe()}" if namespace else ""
        self.description = f"bench LAN{where}: device {device_address}, lab servers on {bind_address}"

    def start(self) -> None:
        self.side.check()

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        return self.device_address, port

    def whole_network(self) -> tuple[bool, str]:
        return True, ""

    @contextmanager
    def lab_side(self) -> Iterator[LabSide]:
        with self.side.entered() as side:
            yield side


@provides(LabAddressing, order=50)
def _bench(ctx: BuildContext) -> BenchAddressing | None:
    address = ctx.profile.network.address
    if ctx.profile.console.qemu is not None or not address:
        return None
    servers = ctx.lab.servers
    bind = str(servers.bind_address or "0.0.0.0")
    facing = str(servers.device_facing_address or servers.bind_address or "")
    return BenchAddressing(str(address), bind, facing, ctx.lab.network.namespace)
