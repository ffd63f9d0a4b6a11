"""The reference firmware's update-channel knobs (FS.25 SSU-COM-0040, SSU-TES-0020, SSU-SEC-0001).

- The security patch level and the date it was applied are shown by `hilsec-patchlevel`
  (overlay/usr/sbin/hilsec-patchlevel) and recorded in /etc/hilsec-release.
  `patch-level-hidden`: the command shows the firmware version only, no level and no date.
- The update check (`hilsec-update-check`) asks the operator's update server first and falls
  back to the manufacturer's. `no-update-fallback`: the client only knows the operator's server.
- The device's own update schedule (`hilsec-update-schedule`, started at boot) runs that check
  shortly after boot and then every AUTOMATIC_CHECK_INTERVAL_S (EN 303 645 5.3-4/5.3-5, TS 103 701
  5.3-6-2a). `no-automatic-update-check`: no schedule, the device checks only when asked.
"""

from __future__ import annotations

from collections.abc import Iterable

UPDATE_CHANNEL_WEAKNESSES: dict[str, str] = {
    "patch-level-hidden": "hilsec-patchlevel shows the firmware version but no security patch level or date",
    "no-update-fallback": "the update check only knows the operator's server: no fallback to the manufacturer's",
    "no-automatic-update-check": "no scheduled update check: the device checks for updates only when asked",
}
# The newest security release the reference firmware carries (the profiles' release_history
# 1.0.3) and the day it was applied at the factory: both in the past, applied after release.
SECURITY_PATCH_LEVEL = "2026-04-07"
SECURITY_PATCH_APPLIED = "2026-04-10"
# The reference device's own update check: its first this long after boot, then every interval
# (the reference profiles' update_policy.automatic_check_interval_s). Short, so that a test
# waiting for an untriggered check adds little time; an hourly or daily check works the same way.
AUTOMATIC_CHECK_INTERVAL_S = 20
AUTOMATIC_CHECK_FIRST_S = 5


def update_channel_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by hilsec-patchlevel, hilsec-update-check and hilsec-update-schedule."""
    chosen = set(weaknesses)
    return {
        "SECURITY_PATCH_LEVEL": SECURITY_PATCH_LEVEL,
        "SECURITY_PATCH_APPLIED": SECURITY_PATCH_APPLIED,
        "PATCH_LEVEL_SHOWN": "no" if "patch-level-hidden" in chosen else "yes",
        "UPDATE_FALLBACK": "none" if "no-update-fallback" in chosen else "manufacturer",
        "UPDATE_CHECK_INTERVAL": "off"
        if "no-automatic-update-check" in chosen
        else str(AUTOMATIC_CHECK_INTERVAL_S),
        "UPDATE_CHECK_FIRST": str(AUTOMATIC_CHECK_FIRST_S),
    }


def update_channel_release_lines() -> str:
    """The lines /etc/hilsec-release adds: what the patch level command must agree with."""
    return f"SECURITY_PATCH_LEVEL={SECURITY_PATCH_LEVEL}\nSECURITY_PATCH_APPLIED={SECURITY_PATCH_APPLIED}\n"
