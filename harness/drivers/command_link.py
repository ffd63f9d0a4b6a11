"""A bench device's network link by the lab's own shell commands (a managed switch port, a relay
on the Ethernet cable, a modem's attach/detach, an RF shield box's door).

The lab config's `link: {down, up}` run with /bin/sh, each bounded by `timeout_s`; a command that
fails or overruns is a HarnessSetupError naming it, so the test ends INCONCLUSIVE saying why.
"""

from __future__ import annotations

from harness.capabilities.link import NetworkLink
from harness.device.registry import BuildContext, provides
from harness.util.processes import run_lab_command


class CommandLink(NetworkLink):
    def __init__(self, settings) -> None:
        self.settings = settings
        self.description = f"network link by command (down: {settings.down!r})"
        self.is_cut = False

    def _run(self, what: str, command: str) -> None:
        run_lab_command(f"link {what} command", command, self.settings.timeout_s)

    def cut(self) -> None:
        self._run("down", self.settings.down)
        self.is_cut = True

    def restore(self) -> None:
        self._run("up", self.settings.up)
        self.is_cut = False

    def stop(self) -> None:
        if self.is_cut:
            self.restore()


@provides(NetworkLink, order=50)
def _command_link(ctx: BuildContext) -> CommandLink | None:
    settings = ctx.lab.link
    if settings is None or ctx.profile.console.qemu is not None:
        return None
    return CommandLink(settings)
