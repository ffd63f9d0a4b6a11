"""Crafting signed (and deliberately bad) update packages, serving them, and driving the agent."""

from harness.updates.agent import AgentStatus, DeliveryOutcome, UpdateAgent
from harness.updates.crafting import INVALID_KINDS, KINDS, CraftedPackage, craft_package
from harness.updates.manifest import UpdateManifest, load_manifest
from harness.updates.package import SwDescription, build_package, read_cpio
from harness.updates.signing import SigningIdentity, create_identity, load_identity

__all__ = [
    "INVALID_KINDS",
    "KINDS",
    "AgentStatus",
    "CraftedPackage",
    "DeliveryOutcome",
    "SigningIdentity",
    "SwDescription",
    "UpdateAgent",
    "UpdateManifest",
    "build_package",
    "craft_package",
    "create_identity",
    "load_identity",
    "load_manifest",
    "read_cpio",
]
