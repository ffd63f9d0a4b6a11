"""The packages a maker hands a lab, made for a reference image: what a bench run names in `updates:`.

A lab testing a real device gets from its maker a valid signed package newer than the running
firmware, an older valid one (for the rollback test) and how the device takes an update. For the
reference image the harness plays the maker: it signs both with the image's own identity (kept in
the image cache) and writes them with the profile section that names them, so tests and the bench
twin run FS38-03 exactly as a lab would, without the UpdateSigning capability.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.emulation.builder import ReferenceImage
from harness.emulation.variants import FIRMWARE_BASE_VERSION
from harness.errors import HarnessSetupError
from harness.updates.crafting import ROLLBACK, VALID, craft_package
from harness.updates.signing import UPDATE_SIGNING_DIR, load_identity

HWREVISION = Path(__file__).resolve().parent.parent / "emulation" / "overlay" / "etc" / "hwrevision"
REFERENCE_DELIVERY = {"console_command": "hilsec-update install {url} 2>&1"}
REFERENCE_VERSION = {"command": "hilsec-update status", "pattern": r"version=(\S+)"}


@dataclass(frozen=True)
class MakerPackages:
    valid: Path
    valid_version: str
    older: Path
    older_version: str

    def profile_section(
        self, delivery: dict[str, Any] | None = None, version: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The profile's `updates:` mapping naming these packages (the reference agent's by default)."""
        return {
            "valid": {"file": str(self.valid), "version": self.valid_version},
            "older": {"file": str(self.older), "version": self.older_version},
            "delivery": dict(delivery or REFERENCE_DELIVERY),
            "version": dict(version or REFERENCE_VERSION),
        }


def reference_hardware() -> str:
    """The board:revision the reference agent matches packages against (its /etc/hwrevision)."""
    board, revision = HWREVISION.read_text().split()[:2]
    return f"{board}:{revision}"


def reference_packages(image: ReferenceImage, out_dir: Path) -> MakerPackages:
    """A newer and an older valid package for `image`, signed with its own update signing key."""
    identity = load_identity(image.root / UPDATE_SIGNING_DIR)
    if identity is None:
        raise HarnessSetupError(f"the reference image in {image.root} has no update signing identity")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind in (VALID, ROLLBACK):
        package = craft_package(
            kind,
            running_version=FIRMWARE_BASE_VERSION,
            hardware=reference_hardware(),
            workdir=out_dir / ".work",
            trusted=identity,
        )
        path = out_dir / f"{image.variant}-firmware-{package.version}.swu"
        path.write_bytes(package.data)
        written[kind] = (path, package.version)
    with contextlib.suppress(OSError):
        (out_dir / ".work").rmdir()
    return MakerPackages(*written[VALID], *written[ROLLBACK])
