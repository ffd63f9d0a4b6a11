"""Crafting signed (and deliberately bad) update packages: the artefacts an update test delivers."""

from harness.updates.crafting import INVALID_KINDS, KINDS, CraftedPackage, craft_package
from harness.updates.manifest import UpdateManifest, load_manifest
from harness.updates.package import SwDescription, build_package
from harness.updates.signing import SigningIdentity, create_identity, load_identity

__all__ = [
    "INVALID_KINDS",
    "KINDS",
    "CraftedPackage",
    "SigningIdentity",
    "SwDescription",
    "UpdateManifest",
    "build_package",
    "craft_package",
    "create_identity",
    "load_identity",
    "load_manifest",
]
