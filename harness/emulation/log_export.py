"""The reference firmware's log export knobs: how (and whether) the node's log leaves it.

Hardened: over TLS to the lab's collector (`hilsec.syslog_tls`, overlay script
`usr/sbin/hilsec-log-export`). `plaintext-syslog`: busybox syslogd sends plain UDP
(`hilsec.syslog_plain`). `no-log-export`: the log stays on the device.

Both knobs on (the vulnerable variant): plaintext wins. A device that exports in the clear is
the more common real weakness, and it keeps the vulnerable image exercising the receiver's
plaintext path; `no-log-export` on its own shows the "not exported at all" path.
"""

from __future__ import annotations

from collections.abc import Iterable

LOG_EXPORT_WEAKNESSES: dict[str, str] = {
    "plaintext-syslog": "the log goes to the collector as plaintext UDP syslog instead of over TLS",
    "no-log-export": "the log never leaves the device (no remote syslog at all)",
}


def log_export_mode(weaknesses: Iterable[str]) -> str:
    """LOG_EXPORT in device.conf: tls, plain or none (plain wins when both knobs are on)."""
    chosen = set(weaknesses)
    if "plaintext-syslog" in chosen:
        return "plain"
    if "no-log-export" in chosen:
        return "none"
    return "tls"


def log_export_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    return {"LOG_EXPORT": log_export_mode(weaknesses)}
