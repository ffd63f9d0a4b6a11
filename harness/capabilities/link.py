"""NetworkLink: cutting the device's network and giving it back (resilience to outages)."""

from __future__ import annotations

from typing import Protocol


class NetworkLink(Protocol):
    NAME = "network link control"
    CONFIG = (
        "lab config: link (down, up commands), or an emulated profile on the lab namespace network "
        "(lab config network.mode: namespace)"
    )

    description: str

    def cut(self) -> None:
        """Cut the device off the lab network (it keeps power); HarnessSetupError when that fails."""
        ...

    def restore(self) -> None:
        """Give the device its network back; safe to call when not cut."""
        ...
