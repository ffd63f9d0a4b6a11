"""A bench device's firmware as the maker hands it to the lab: the profile's `firmware_image`."""

from __future__ import annotations

from pathlib import Path

from harness.capabilities import FirmwareFiles
from harness.device.registry import BuildContext, provides


class DeclaredFirmware(FirmwareFiles):
    def __init__(self, image: Path) -> None:
        self._image = image
        self.description = f"firmware image {image}"

    @property
    def image(self) -> Path | None:
        return self._image

    @property
    def initrd(self) -> Path | None:
        return None  # a bench image is scanned as shipped; boot-chain tests need the maker's files


@provides(FirmwareFiles, order=50)
def _declared(ctx: BuildContext) -> DeclaredFirmware | None:
    image = ctx.profile.firmware_image
    return DeclaredFirmware(Path(image)) if image is not None else None
