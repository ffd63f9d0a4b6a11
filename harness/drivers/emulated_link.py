"""The emulated board's network link, cut on the lab side of its namespace (harness.lab.link_cut).

Only the namespace network has a lab-side link the harness owns; on QEMU user-mode networking
there is none to cut, so the capability is not provided and a resilience test says which key
would give it.
"""

from __future__ import annotations

from harness.capabilities import LabAddressing
from harness.capabilities.link import NetworkLink
from harness.device.registry import BuildContext, provides
from harness.drivers.emulated_network import EmulatedNetwork
from harness.lab.link_cut import LabLinkCut


class EmulatedLink(NetworkLink):
    def __init__(self, network: EmulatedNetwork) -> None:
        self.network = network
        self.description = "the emulated device's tap taken off the lab bridge (ARP still answered)"
        self._cut: LabLinkCut | None = None

    def _link(self) -> LabLinkCut:
        if self._cut is None:
            lab = self.network.network
            assert lab is not None
            self._cut = LabLinkCut(
                lab.side, lab.name, lab.tap, lab.bridge, (lab.lab_address, *lab.scanner_addresses)
            )
        return self._cut

    def cut(self) -> None:
        self._link().cut()

    def restore(self) -> None:
        self._link().restore()

    def stop(self) -> None:
        if self._cut is not None and self._cut.is_cut:
            self._cut.restore()


@provides(NetworkLink, order=10)
def _emulated_link(ctx: BuildContext) -> EmulatedLink | None:
    network = ctx.shared.get(LabAddressing)
    if (
        ctx.profile.console.qemu is None
        or not isinstance(network, EmulatedNetwork)
        or network.network is None
    ):
        return None
    return EmulatedLink(network)
