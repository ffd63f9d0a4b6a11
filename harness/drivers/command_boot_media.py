"""The board's boot image written by the lab's own command (`boot_media.write`, `{image}` in it):
a flash programmer, `usbsdmux`, a copy into the TFTP root the board's bootcmd loads from."""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.capabilities import BootMedia
from harness.device.registry import BuildContext, provides
from harness.errors import HarnessSetupError
from harness.util.processes import run_shell

OUTPUT_IN_ERROR = 500


class CommandBootMedia(BootMedia):
    def __init__(self, settings) -> None:
        self.settings = settings
        self.description = f"boot media written by command ({settings.write!r})"

    def write(self, image: Path) -> None:
        command = self.settings.write.replace("{image}", shlex.quote(str(image)))
        outcome = run_shell(command, float(self.settings.timeout_s))
        if outcome.status is None:
            raise HarnessSetupError(
                f"boot media write {command!r} did not finish within {self.settings.timeout_s:g} s"
            )
        if outcome.status != 0:
            raise HarnessSetupError(
                f"boot media write {command!r} failed with status {outcome.status}: "
                f"{outcome.output.strip()[-OUTPUT_IN_ERROR:]}"
            )


@provides(BootMedia, order=50)
def _command_boot_media(ctx: BuildContext) -> CommandBootMedia | None:
    settings = getattr(ctx.lab, "boot_media", None)
    return CommandBootMedia(settings) if settings is not None else None
