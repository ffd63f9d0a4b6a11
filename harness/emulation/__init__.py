"""The reference firmware image builder (see builder.build_image)."""

from harness.emulation.builder import ReferenceImage, build_image
from harness.emulation.profile_image import image_for_profile
from harness.emulation.variants import HARDENINGS, VARIANTS, WEAKNESSES, Variant, get_variant

__all__ = [
    "HARDENINGS",
    "VARIANTS",
    "WEAKNESSES",
    "ReferenceImage",
    "Variant",
    "build_image",
    "get_variant",
    "image_for_profile",
]
