"""The reference image a device profile names, built or taken from the lab's image cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.emulation.builder import ReferenceImage, build_image


def image_for_profile(
    profile: Any, lab: Any, progress: Callable[[str], None] | None = None
) -> ReferenceImage | None:
    """The ReferenceImage of `console.qemu.reference_image` (with its weakness knobs), else None."""
    qemu = profile.console.qemu
    if qemu is None or not qemu.reference_image:
        return None
    cache = getattr(lab, "image_cache", None) if lab is not None else None
    return build_image(
        qemu.reference_image,
        cache_dir=Path(cache).expanduser() if cache else None,
        progress=progress,
        weaknesses=qemu.weaknesses,
        hardenings=qemu.hardening,
    )
