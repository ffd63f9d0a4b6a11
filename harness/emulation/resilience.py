"""Weaknesses of the reference image's reconnection behaviour (EN 303 645 5.9, TS 103 701 5.9).

- `no-reconnect`: once it has sent a reading, the telemetry client gives up for good after its
  first network error (a slow first connection at boot does not count), so
  after an outage (or until the next boot) the device stops reporting (5.9-1, 5.9-2);
- `reconnect-storm`: after a network error the telemetry client retries every 100 ms with a 2 s
  attempt, without backing off (every 20th retry is a full attempt, so it does come back once
  the network does): the mass reconnection 5.9-3 asks devices to avoid.
With both, it storms for a few attempts, then gives up.
"""

from __future__ import annotations

from collections.abc import Iterable

RESILIENCE_WEAKNESSES: dict[str, str] = {
    "no-reconnect": "once connected, the telemetry client gives up for good after its first network error",
    "reconnect-storm": "after a network error the telemetry client retries every 100 ms, without back-off",
}
STORM_RETRY_DELAY_S = "0.1"
STORM_ATTEMPT_TIMEOUT_S = 2  # openssl needs most of a second to start in an emulated guest
STORM_FULL_ATTEMPT_EVERY = 20  # every Nth retry waits the normal attempt timeout
GIVE_UP_AFTER_STORM = 8  # with both knobs: consecutive failed retries before giving up


def resilience_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by the telemetry client."""
    chosen = set(weaknesses)
    storm, give_up = "reconnect-storm" in chosen, "no-reconnect" in chosen
    return {
        "TELEMETRY_RETRY_DELAY": STORM_RETRY_DELAY_S if storm else "",
        "TELEMETRY_RETRY_TIMEOUT": str(STORM_ATTEMPT_TIMEOUT_S),
        "TELEMETRY_FULL_ATTEMPT_EVERY": str(STORM_FULL_ATTEMPT_EVERY),
        # consecutive failures after which the client exits; empty: never
        "TELEMETRY_GIVE_UP_AFTER": (str(GIVE_UP_AFTER_STORM) if storm else "1") if give_up else "",
    }
