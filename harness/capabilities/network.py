"""LabAddressing: where the device is on the lab LAN, where lab servers listen, how to reach it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from harness.lab.side import LabSide


class LabAddressing(Protocol):
    NAME = "lab network"
    CONFIG = "profile: network.address and lab config: servers / network"

    description: str
    device_address: str  # the device's own address, as captures show it
    bind_address: str  # where lab servers listen
    device_facing_address: str  # the address the device sends to, to reach the lab servers
    scanner_addresses: tuple[str, ...]  # extra lab-side source addresses (UDP scans)
    side: LabSide  # where lab-side sockets and processes are made

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        """Where the lab connects to reach the device's `port` (KeyError when it cannot)."""
        ...

    def whole_network(self) -> tuple[bool, str]:
        """Whether lab-side tools reach every port of the device, and why not when they cannot."""
        ...

    def lab_side(self) -> AbstractContextManager[LabSide]:
        """A block whose sockets and processes are made on the lab side of the device's network."""
        ...
