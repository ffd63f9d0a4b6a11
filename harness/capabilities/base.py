"""What every capability has, and the error a test ends with when the bench lacks one."""

from __future__ import annotations

from typing import Protocol

from harness.errors import HilsecError


class Capability(Protocol):
    """Every capability names what provides it ("serial /dev/ttyUSB0 @115200", "QEMU power")."""

    description: str


def capability_name(capability: type) -> str:
    """The short name a capability class declares (`NAME`), for reasons and reports."""
    return str(getattr(capability, "NAME", capability.__name__))


def config_hint(capability: type) -> str:
    """The config keys that provide a capability (`CONFIG`), for the reason a test gives."""
    return str(getattr(capability, "CONFIG", "the device profile or lab config"))


class MissingCapability(HilsecError):
    """The bench does not provide what a test needs: the test is INCONCLUSIVE, naming the key."""

    def __init__(self, capability: type, purpose: str = "") -> None:
        self.capability = capability
        self.purpose = purpose
        super().__init__(str(self))

    def __str__(self) -> str:
        need = f" to {self.purpose}" if self.purpose else ""
        return (
            f"the bench provides no {capability_name(self.capability)}{need} "
            f"(configure {config_hint(self.capability)})"
        )
