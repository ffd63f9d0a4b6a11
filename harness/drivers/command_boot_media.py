"""The board's boot image written by the lab's own command (`boot_media.write`, `{image}` in it):
a flash programmer, `usbsdmux`, a copy into the TFTP root the board's bootcmd loads from."""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.capabilities import BootMedia
from harness.device.registry import BuildContext, provides
from harness.util.processes import run_lab_command


class CommandBootMedia(BootMedia):
    def __init__(self, settings) -> None:
        self.settings = settings
        self.description = f"boot media written by command ({settings.write!r})"

    def write(self, image: Path) -> None:
        command = self.settings.write.replace("{image}", shlex.quote(str(image)))
        run_lab_command("boot media write", command, self.settings.timeout_s)


@provides(BootMedia, order=50)
def _command_boot_media(ctx: BuildContext) -> CommandBootMedia | None:
    settings = getattr(ctx.lab, "boot_media", None)
    return CommandBootMedia(settings) if settings is not None else None
