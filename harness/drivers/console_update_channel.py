"""Updates delivered by a console command: the package is published on the lab's update server and
the device is told its URL by a shell command (`updates.delivery.console_command`, `{url}` in it).

The reference image's agent (`features.software_update: hilsec-update`) is the same channel with
its own command, for profiles that name no `updates` section.
"""

from __future__ import annotations

import shlex
from typing import Any

from harness.capabilities import HandOver, UpdateChannel
from harness.device.registry import BuildContext, provides
from harness.errors import HarnessSetupError

REFERENCE_AGENT = "hilsec-update"
REFERENCE_INSTALL = REFERENCE_AGENT + " install {url} 2>&1"
UPDATE_SERVICE = "updates"


def publish(device: Any, filename: str, data: bytes) -> str:
    """Put the package on the lab's update server; the URL the device fetches it from."""
    server = device.lab_services.get(UPDATE_SERVICE)
    if server is None:
        raise HarnessSetupError(f"the lab runs no update server (lab service {UPDATE_SERVICE!r})")
    return str(server.publish(filename, data))


class ConsoleCommandChannel(UpdateChannel):
    def __init__(self, command: str, device_ref: dict[str, Any]) -> None:
        self.command = command
        self._device_ref = device_ref
        self.description = f"console command {command!r} with the package's URL on the lab's update server"

    def deliver(self, filename: str, data: bytes, timeout: float) -> HandOver:
        device = self._device_ref["device"]
        url = publish(device, filename, data)
        result = device.run(self.command.replace("{url}", shlex.quote(url)), timeout=timeout)
        return HandOver(result.status == 0, result.status, result.output, url)


@provides(UpdateChannel, order=50)
def _declared(ctx: BuildContext) -> ConsoleCommandChannel | None:
    updates = ctx.profile.updates
    if updates is None or updates.delivery.console_command is None:
        return None
    return ConsoleCommandChannel(updates.delivery.console_command, ctx.shared.setdefault("device-ref", {}))


@provides(UpdateChannel, order=90)
def _reference_agent(ctx: BuildContext) -> ConsoleCommandChannel | None:
    if ctx.profile.updates is not None or ctx.profile.features.kind("software_update") != REFERENCE_AGENT:
        return None
    return ConsoleCommandChannel(REFERENCE_INSTALL, ctx.shared.setdefault("device-ref", {}))
