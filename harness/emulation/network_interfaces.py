"""The reference image's network-interface weakness (EN 303 645 5.6-1, TS 103 701 5.6-1-2a).

- `undeclared-interface-up`: at boot the image's own init (overlay/usr/sbin/hilsec-network) brings
  up a second network interface, `maint0`, with an address: a vendor maintenance link left enabled
  that no profile declares. It is a kernel dummy interface (`ip link add maint0 type dummy`, the
  kernel's dummy.ko), which is what the device itself lists as any other interface.
"""

from __future__ import annotations

from collections.abc import Iterable

INTERFACE_WEAKNESSES: dict[str, str] = {
    "undeclared-interface-up": "a network interface no profile declares (maint0, with an address) is up from boot",
}
EXTRA_INTERFACE = "maint0"
EXTRA_INTERFACE_ADDRESS = "192.168.250.1/24"
EXTRA_INTERFACE_MODULES = ("dummy",)


def interface_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by overlay/usr/sbin/hilsec-network."""
    up = "undeclared-interface-up" in set(weaknesses)
    return {
        "EXTRA_INTERFACE": EXTRA_INTERFACE if up else "",
        "EXTRA_INTERFACE_ADDRESS": EXTRA_INTERFACE_ADDRESS if up else "",
    }


def interface_modules(weaknesses: Iterable[str]) -> tuple[str, ...]:
    """Kernel modules the weakness needs beyond the network driver's (none on the hardened image)."""
    return EXTRA_INTERFACE_MODULES if "undeclared-interface-up" in set(weaknesses) else ()
