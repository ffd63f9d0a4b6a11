"""The lab network of an emulated board: a namespace the harness builds, or QEMU user mode.

With root, the board's NIC is a tap on a bridge in a private network namespace (harness.lab.
network): the lab reaches every port of the device and sees every packet, like a board on a
lab LAN. Without root it falls back to QEMU user-mode networking: the lab reaches only the
ports forwarded to 127.0.0.1, through NAT, which `whole_network()` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harness.capabilities import LabAddressing
from harness.device.registry import BuildContext, provides
from harness.errors import HarnessSetupError
from harness.lab.network import LabNetwork, choose_network_mode
from harness.lab.side import LabSide

EMULATED_NETWORK = "emulated-network"
QEMU_GUEST_ADDRESS = "10.0.2.15"  # QEMU user mode: the guest's address
QEMU_HOST_ADDRESS = "10.0.2.2"  # QEMU user mode: how the guest reaches the host's loopback
LOGIN_PORTS = {"telnet": 23, "ssh": 22}


def forwarded_ports(profile) -> list[tuple[str, int]]:
    """User mode: the well-known login ports and every declared TCP service, forwarded to the host."""
    declared = {(s.protocol, int(s.port)) for s in profile.network.services if s.protocol == "tcp"}
    return sorted({("tcp", port) for port in LOGIN_PORTS.values()} | declared)


class EmulatedNetwork(LabAddressing):
    """Chooses namespace or user mode from the lab config, and builds the namespace on start."""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx
        settings = ctx.lab.network
        self.mode, self.reason = choose_network_mode(str(settings.mode))
        self.network = LabNetwork(subnet=str(settings.subnet)) if self.mode == "namespace" else None
        self.side = self.network.side if self.network is not None else LabSide(None)
        if self.network is not None:
            self.description = f"lab network namespace {self.network.name} ({settings.subnet})"
            self.device_address = self.network.device_address
            self.bind_address = self.network.lab_address
            self.device_facing_address = self.network.lab_address
            self.scanner_addresses = self.network.scanner_addresses
        else:
            self.description = f"QEMU user-mode networking ({self.reason})"
            self.device_address = QEMU_GUEST_ADDRESS
            self.bind_address = "127.0.0.1"
            self.device_facing_address = QEMU_HOST_ADDRESS
            self.scanner_addresses = ()
        self.setup_seconds: float | None = None

    @property
    def tap(self) -> str | None:
        return self.network.tap if self.network is not None else None

    @property
    def namespace(self) -> str | None:
        return self.network.name if self.network is not None else None

    def start(self) -> None:
        if self.network is None:
            self.ctx.progress(f"lab network: {self.reason}")
            return
        self.network.create()
        self.setup_seconds = self.network.setup_seconds
        self.ctx.progress(
            f"lab network: namespace {self.network.name}, lab {self.bind_address}, device "
            f"{self.device_address} ({self.network.setup_seconds:.2f} s to set up)"
        )

    def stop(self) -> None:
        if self.network is not None:
            self.network.destroy()

    def boot_words(self) -> list[str]:
        """Kernel command line words that give the reference image its lab address."""
        return self.network.addressing.device_boot_arguments() if self.network is not None else []

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        if self.network is not None:
            return self.device_address, port
        board = self.ctx.shared.get("emulated-board")
        machine = getattr(board, "machine", None)
        if machine is None:
            raise HarnessSetupError("the emulated board is not started")
        return "127.0.0.1", machine.host_port(protocol, port)

    def whole_network(self) -> tuple[bool, str]:
        if self.network is not None:
            return True, ""
        return False, (
            f"the emulated device is on QEMU user-mode networking ({self.reason}): the lab reaches only "
            "forwarded ports through NAT, so it cannot scan the device's address"
        )

    @contextmanager
    def lab_side(self) -> Iterator[LabSide]:
        with self.side.entered() as side:
            yield side

    def identity(self) -> dict[str, object]:
        info: dict[str, object] = {"network_mode": self.mode}
        if self.setup_seconds is not None:
            info["lab_network_setup_seconds"] = round(self.setup_seconds, 3)
        return info


@provides(LabAddressing, order=10)
def _addressing(ctx: BuildContext) -> EmulatedNetwork | None:
    if ctx.profile.console.qemu is None:
        return None
    return ctx.share(EMULATED_NETWORK, lambda: EmulatedNetwork(ctx))
