"""FS.25's device-visible update channel: the patch level a user can read (SSU-COM-0040), the
fallback from the operator's to the manufacturer's update server (SSU-TES-0020) and the device's
own, unasked update checks (SSU-SEC-0001: EN 303 645 5.3-4/5.3-5, TS 103 701 5.3-6-2a).

The suite (testsuites/test_update_channel.py) runs the device's commands and drives the lab's
update servers; the decisions are here, on what it observed. Each `judge_*` function returns an
`Outcome`: findings FAIL, missing evidence is INCONCLUSIVE naming what is missing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.checks.update_policy import Tally
from harness.results.outcome import Outcome

PATCH_LEVEL_FIELD = "update_policy.patch_level_command"
OPERATOR_FIELD = "update_policy.operator_update_server"
MANUFACTURER_FIELD = "update_policy.manufacturer_update_server"
AUTOMATIC_CHECK_FIELD = "update_policy.automatic_check_interval_s"
UPDATE_CHECK_PORT_KEYS = (
    "lab.servers.update_check_operator_port",
    "lab.servers.update_check_manufacturer_port",
)
# The longest the harness waits for one scheduled check; a device declaring a longer interval is
# INCONCLUSIVE rather than holding a test run for hours.
AUTOMATIC_CHECK_MAX_WATCH_S = 900.0
# A declared server the lab itself runs (harness.lab.services.update_checks): hilsec-lab://SERVICE/ROLE.
LAB_SERVER_SCHEME = "hilsec-lab://"

NOTHING_OBSERVED = "nothing was observed to judge"

_DATE = re.compile(r"(?<!\d)(\d{4})[-/](\d{2})[-/](\d{2})(?!\d)")
_LEVEL_KEY = re.compile(r"patch", re.IGNORECASE)
_APPLIED_KEY = re.compile(r"appl|install|updated", re.IGNORECASE)


# --- SSU-COM-0040: the patch level and when it was applied --------------------------------------


@dataclass(frozen=True)
class PatchLevelReading:
    """What the declared command printed, and the level and date read from it."""

    command: str
    output: str
    status: int | None
    level: dt.date | None
    applied: dt.date | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["level"] = self.level.isoformat() if self.level else None
        data["applied"] = self.applied.isoformat() if self.applied else None
        return data


def _first_date(text: str) -> dt.date | None:
    for match in _DATE.finditer(text):
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
    return None


def _all_dates(text: str) -> list[dt.date]:
    dates = []
    for match in _DATE.finditer(text):
        try:
            dates.append(dt.date(int(match[1]), int(match[2]), int(match[3])))
        except ValueError:
            continue
    return dates


def parse_patch_level(output: str) -> tuple[dt.date | None, dt.date | None]:
    """(patch level, date applied) from `key=value` / `Key: value` lines.

    A key naming "patch" (and not "applied") gives the level; a key naming applied/installed/updated
    gives the date. Output without such keys (an AT response like `+PATCH: 2026-04-07,2026-04-10`)
    falls back to its dates in order: the first the level, the second the date applied; so does a
    patch-level line that carries two dates.
    """
    level = applied = second = None
    for line in output.splitlines():
        parts = re.split(r"\s*[=:]\s*", line.strip(), maxsplit=1)
        if len(parts) != 2:
            continue
        key, value = parts
        if _APPLIED_KEY.search(key) and applied is None:
            applied = _first_date(value)
        elif _LEVEL_KEY.search(key) and level is None:
            dates = _all_dates(value)
            level = dates[0] if dates else None
            second = dates[1] if len(dates) > 1 else None
    applied = applied or second
    if level is None and applied is None:
        dates = _all_dates(output)
        level = dates[0] if dates else None
        applied = dates[1] if len(dates) > 1 else None
    return level, applied


def release_patch_fields(release_text: str) -> dict[str, dt.date]:
    """SECURITY_PATCH_LEVEL / SECURITY_PATCH_APPLIED from an /etc/hilsec-release-like file."""
    fields: dict[str, dt.date] = {}
    for line in release_text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("SECURITY_PATCH_LEVEL", "SECURITY_PATCH_APPLIED"):
            date = _first_date(value)
            if date:
                fields[key.strip()] = date
    return fields


def judge_patch_level(
    reading: PatchLevelReading,
    *,
    today: dt.date,
    release_fields: dict[str, dt.date] | None = None,
) -> Outcome:
    """The command ran, shows a level and a date, both plausible and agreeing with the release file."""
    result = Tally("SSU-COM-0040")
    shown = f"`{reading.command}`"
    excerpt = reading.output.strip()[:200] or "nothing"
    if reading.status not in (0, None):
        result.findings.append(f"{shown} failed (exit status {reading.status}); it printed: {excerpt!r}")
        return result.outcome(NOTHING_OBSERVED)
    if reading.level is None:
        result.findings.append(f"{shown} shows no security patch level (a date); it printed: {excerpt!r}")
    if reading.applied is None:
        result.findings.append(f"{shown} shows no date the patch level was applied; it printed: {excerpt!r}")
    if reading.level and reading.level > today:
        result.findings.append(
            f"the security patch level {reading.level} is in the future (today is {today})"
        )
    if reading.applied and reading.applied > today:
        result.findings.append(
            f"the patch level was applied on {reading.applied}, in the future (today is {today})"
        )
    if reading.level and reading.applied and reading.applied < reading.level:
        result.findings.append(
            f"the patch level {reading.level} is said to be applied on {reading.applied}, before it existed"
        )
    for key, shown_value in (
        ("SECURITY_PATCH_LEVEL", reading.level),
        ("SECURITY_PATCH_APPLIED", reading.applied),
    ):
        recorded = (release_fields or {}).get(key)
        if recorded and shown_value and recorded != shown_value:
            result.findings.append(
                f"{shown} shows {shown_value} but the device's release file records {key}={recorded}"
            )
        elif recorded and shown_value:
            result.judged.append(f"agrees with the release file's {key}={recorded}")
    if not result.findings:
        result.judged.insert(
            0, f"{shown} shows security patch level {reading.level}, applied {reading.applied}"
        )
    return result.outcome(NOTHING_OBSERVED)


# --- SSU-TES-0020: fall back to the manufacturer's update server ---------------------------------


def lab_server_role(url: str) -> str | None:
    """`operator` for hilsec-lab://update-servers/operator; None for a server outside the lab."""
    if not url.startswith(LAB_SERVER_SCHEME):
        return None
    return url.removeprefix(LAB_SERVER_SCHEME).rstrip("/").rpartition("/")[2] or None


def fallback_applicability(operator: str | None, manufacturer: str | None) -> Outcome | None:
    """None when the fallback can be tested; else the NOT_APPLICABLE or INCONCLUSIVE outcome."""
    if not operator:
        return Outcome.not_applicable(
            f"the profile declares no operator update server ({OPERATOR_FIELD}): no operator manages "
            "this device's updates, so there is no operator server to fall back from",
        )
    if not manufacturer:
        return Outcome.inconclusive(
            f"{MANUFACTURER_FIELD} is not declared: the harness cannot tell which server the device "
            "should fall back to",
            [MANUFACTURER_FIELD],
        )
    outside = [url for url in (operator, manufacturer) if lab_server_role(url) is None]
    if outside:
        return Outcome.inconclusive(
            f"the lab can make unreachable only update servers it runs ({LAB_SERVER_SCHEME}update-servers/"
            f"operator|manufacturer); {', '.join(outside)} is outside the lab",
            [f"a lab-run stand-in for {url}" for url in outside],
        )
    return None


@dataclass
class FallbackObservation:
    """Which server each of the device's update checks reached, from the servers' access logs."""

    operator_address: str
    manufacturer_address: str
    deadline_s: float
    baseline_server: str | None = None  # both servers up
    requests_after_block: dict[str, int] = field(default_factory=dict)  # role -> requests
    fallback_seconds: float | None = None  # from blocking to the manufacturer's first request
    baseline_output: list[str] = field(default_factory=list)  # what the device said, both servers up
    device_output: list[str] = field(default_factory=list)  # ... and with the operator's unreachable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_fallback(observation: FallbackObservation) -> Outcome:
    """PASS when, with the operator's server unreachable, a check reaches the manufacturer's in time."""
    result = Tally("SSU-TES-0020")
    o = observation
    if o.baseline_server is None:
        result.missing.append(
            f"with both update servers up, the device's update check reached neither within {o.deadline_s:.0f} s: "
            "its update check does not work, so the fallback cannot be judged"
        )
        return result.outcome(NOTHING_OBSERVED)
    if o.baseline_server == "manufacturer":
        result.judged.append(
            "with both servers up the check went to the manufacturer's server, not the operator's"
        )
    else:
        result.judged.append(
            f"with both servers up the check reached the operator's server ({o.operator_address})"
        )
    reached = o.requests_after_block.get("manufacturer", 0)
    said = "; ".join(line for line in o.device_output if line.strip())[:200] or "nothing"
    if reached == 0 or o.fallback_seconds is None:
        result.findings.append(
            f"with the operator's update server ({o.operator_address}) unreachable, the device's update check "
            f"did not reach the manufacturer's server ({o.manufacturer_address}) within {o.deadline_s:.0f} s: "
            f"no fallback (the check said: {said})"
        )
        return result.outcome(NOTHING_OBSERVED)
    result.judged.append(
        f"with the operator's server unreachable, the next check reached the manufacturer's server "
        f"({o.manufacturer_address}) after {o.fallback_seconds:.1f} s"
    )
    return result.outcome(NOTHING_OBSERVED)


# --- SSU-SEC-0001 (EN 303 645 5.3-4/5.3-5): the device checks for updates on its own -------------


def automatic_check_applicability(
    interval_s: int | None, servers: dict[str, str], margin_s: float
) -> Outcome | None:
    """None when the wait for an untriggered check can start; else the INCONCLUSIVE outcome."""
    if interval_s is None:
        return Outcome.inconclusive(
            f"{AUTOMATIC_CHECK_FIELD} is not declared: the harness does not know how long to wait for the "
            "device's own update check",
            [AUTOMATIC_CHECK_FIELD],
        )
    if not servers:
        return Outcome.inconclusive(
            "the lab runs no update-check servers to see the device's own update check at "
            f"({' / '.join(UPDATE_CHECK_PORT_KEYS)}; started when {OPERATOR_FIELD} or {MANUFACTURER_FIELD} "
            f"names {LAB_SERVER_SCHEME}update-servers/...)",
            list(UPDATE_CHECK_PORT_KEYS),
        )
    if interval_s + margin_s > AUTOMATIC_CHECK_MAX_WATCH_S:
        return Outcome.inconclusive(
            f"{AUTOMATIC_CHECK_FIELD} is {interval_s} s: waiting for one check (plus {margin_s:.0f} s) is longer "
            f"than the {AUTOMATIC_CHECK_MAX_WATCH_S:.0f} s the harness waits in one test",
            [f"{AUTOMATIC_CHECK_FIELD} of at most {AUTOMATIC_CHECK_MAX_WATCH_S - margin_s:.0f} s"],
        )
    return None


@dataclass(frozen=True)
class ServerRequest:
    """One request an update-check server answered (from its access log)."""

    role: str  # operator | manufacturer
    time: float  # time.time()
    client: str
    path: str


@dataclass
class AutomaticCheckWatch:
    """What the lab's update-check servers saw while the harness, asking nothing, waited."""

    interval_s: int  # the declared interval between the device's own checks
    margin_s: float  # allowed on top: the check's own time, the schedule's jitter
    started: float  # time.time() the watched stretch of the device's life began (maybe before the test)
    ended: float  # ... and ended (early, once a check came)
    servers: dict[str, str]  # role -> HOST:PORT
    requests: list[ServerRequest] = field(default_factory=list)  # to either server, since `started`
    harness_checks: list[tuple[float, float]] = field(default_factory=list)  # checks the harness started

    @property
    def bound_s(self) -> float:
        return self.interval_s + self.margin_s

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"bound_s": self.bound_s}


def _in_window(watch: AutomaticCheckWatch) -> list[ServerRequest]:
    return [r for r in watch.requests if watch.started <= r.time <= watch.started + watch.bound_s]


def untriggered_requests(watch: AutomaticCheckWatch) -> list[ServerRequest]:
    """The requests in the watch's window outside every check the harness started, oldest first."""
    return sorted(
        (
            r
            for r in _in_window(watch)
            if not any(start <= r.time <= end for start, end in watch.harness_checks)
        ),
        key=lambda r: r.time,
    )


def judge_automatic_check(watch: AutomaticCheckWatch) -> Outcome:
    """PASS when a request nobody triggered reached either update-check server within the bound."""
    result = Tally("SSU-SEC-0001")
    w = watch
    own = untriggered_requests(w)
    left_out = len(_in_window(w)) - len(own)
    servers = ", ".join(f"the {role}'s {address}" for role, address in w.servers.items())
    if not own:
        excluded = f" ({left_out} request(s) of checks the harness started left out)" if left_out else ""
        result.findings.append(
            f"no update check reached either update-check server ({servers}) within {w.bound_s:.0f} s "
            f"(the declared interval {w.interval_s} s plus {w.margin_s:.0f} s) with the harness asking for "
            f"none{excluded}: the device does not check for updates on its own"
        )
        return result.outcome(NOTHING_OBSERVED)
    first = own[0]
    result.judged.append(
        f"unasked, the device checked for updates {first.time - w.started:.1f} s into the stretch of its life watched "
        f"(within the declared interval {w.interval_s} s plus {w.margin_s:.0f} s): GET {first.path!r} to the "
        f"{first.role}'s update-check server {w.servers.get(first.role, '?')}"
    )
    return result.outcome(NOTHING_OBSERVED)
