"""The reference firmware's update-channel knobs (FS.25 SSU-COM-0040, SSU-TES-0020).

- The security patch level and the date it was applied are shown by `hilsec-patchlevel`
  (overlay/usr/sbin/hilsec-patchlevel) and recorded in /etc/hilsec-release.
  `patch-level-hidden`: the command shows the firmware version only, no level and no date.
- The update check (`hilsec-update-check`) asks the operator's update server first and falls
  back to the manufacturer's. `no-update-fallback`: the client only knows the operator's server.
"""

from __future__ import annotations

from collections.abc import Iterable

UPDATE_CHANNEL_WEAKNESSES: dict[str, str] = {
    "patch-level-hidden": "hilsec-patchlevel shows the firmware version but no security patch level or date",
    "no-update-fallback": "the update check only knows the operator's server: no fallback to the manufacturer's",
}
# The newest security release the reference firmware carries (the profiles' release_history
# 1.0.3) and the day it was applied at the factory: both in the past, applied after release.
SECURITY_PATCH_LEVEL = "2026-04-07"
SECURITY_PATCH_APPLIED = "2026-04-10"


def update_channel_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by hilsec-patchlevel and hilsec-update-check."""
    chosen = set(weaknesses)
    return {
        "SECURITY_PATCH_LEVEL": SECURITY_PATCH_LEVEL,
        "SECURITY_PATCH_APPLIED": SECURITY_PATCH_APPLIED,
        "PATCH_LEVEL_SHOWN": "no" if "patch-level-hidden" in chosen else "yes",
        "UPDATE_FALLBACK": "none" if "no-update-fallback" in chosen else "manufacturer",
    }


def update_channel_release_lines() -> str:
    """The lines /etc/hilsec-release adds: what the patch level command must agree with."""
    return f"SECURITY_PATCH_LEVEL={SECURITY_PATCH_LEVEL}\nSECURITY_PATCH_APPLIED={SECURITY_PATCH_APPLIED}\n"
