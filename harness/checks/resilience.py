"""Resilience to network and power outages (EN 303 645 5.9, TS 103 701 5.9-1/2/3): pure decisions.

Three questions, each from evidence the suite gathered around an outage it caused:
- `judge_local_operation`: did the console still run a command while the network was cut?
- `judge_resumption`: does every peer the device kept talking to before the outage (two-way,
  more than once) hear from it again, and answer, within a bound after the network or power came
  back? Any peer counts, on any port: what the device did before is the expectation.
- `judge_backoff`: during the outage, did the device hammer a peer: many attempts at a short,
  near-constant interval? Attempts that grow apart (back-off), or a device's ordinary reporting
  interval, are not hammering. With nothing of the device's seen during the outage the capture
  cannot tell, so the verdict is INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from harness.analysis.capture.activity import DeviceActivity, PeerActivity
from harness.results.outcome import Measurement, Outcome

RECURRING_MIN_GAP_S = 1.0  # two sends at least this far apart make a peer the device keeps talking to
STORM_MIN_ATTEMPTS = 6  # fewer attempts than this during an outage are never a storm
STORM_MAX_INTERVAL_S = 3.0  # a median gap between attempts below this is short
BACKOFF_GROWTH = 1.5  # the last attempts' gaps this much wider than the first ones: a back-off


@dataclass(frozen=True)
class Outage:
    """When the lab cut the network (or power) and when it gave it back (epoch seconds)."""

    what: str  # "network link" | "power"
    before_from: float  # start of the window that shows what the device did before
    cut_at: float
    restored_at: float
    observed_until: float  # end of the window after restoring


def judge_local_operation(what: str, marker: str, output: str | None, status: int | None) -> Outcome:
    """The device ran `echo MARKER` on its console during the outage (output None: no answer)."""
    if output is None:
        return Outcome.failed([f"the console did not answer a command while the {what} was cut"])
    if status != 0 or marker not in output:
        return Outcome.failed(
            [f"the console answered but the command failed while the {what} was cut (status {status})"]
        )
    return Outcome.passed(f"the console ran a command while the {what} was cut")


def _recurring_before(peer: PeerActivity, outage: Outage) -> bool:
    sent = [t for t in peer.sent if outage.before_from <= t < outage.cut_at]
    answered = any(outage.before_from <= t < outage.cut_at for t in peer.received)
    return answered and len(sent) >= 2 and sent[-1] - sent[0] >= RECURRING_MIN_GAP_S


def judge_resumption(activity: DeviceActivity, outage: Outage, bound_s: float) -> Outcome:
    """FAIL for each peer the device talked to repeatedly before the outage that neither heard
    from it nor answered it within `bound_s` of the restore; INCONCLUSIVE with no such peer."""
    missing = [f"capture file unreadable: {entry}" for entry in activity.unreadable]
    if activity.truncated:
        missing.append("the capture had more peers or packets than the analysis keeps")
    expected = [p for p in activity.peers if _recurring_before(p, outage)]
    if not expected:
        missing.append(
            f"the device talked to no peer repeatedly (two-way) before the {outage.what} was cut, "
            "so there is nothing whose resumption can be judged"
        )
    findings, measurements = [], []
    deadline = outage.restored_at + bound_s
    for peer in expected:
        sent = next((t for t in peer.sent if outage.restored_at <= t <= deadline), None)
        answer = next((t for t in peer.received if outage.restored_at <= t <= deadline), None)
        if sent is None or answer is None:
            gap = "sent it nothing" if sent is None else "got no answer from it"
            findings.append(
                f"{peer.name}: the device talked to it before the {outage.what} was cut but "
                f"{gap} within {bound_s:g} s of the {outage.what} coming back"
            )
            continue
        measurements.append(
            Measurement(
                f"{peer.name} resumed after",
                round(max(sent, answer) - outage.restored_at, 1),
                "s",
                high=bound_s,
            )
        )
    return Outcome.from_findings(
        findings,
        missing=missing,
        passed=f"every one of {len(expected)} peer(s) the device talked to before the {outage.what} was cut "
        f"resumed within {bound_s:g} s of it coming back",
        measurements=tuple(measurements),
        details={"expected_peers": [p.name for p in expected]},
    )


def _storm(attempts: list[float]) -> tuple[bool, float]:
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    if len(attempts) < STORM_MIN_ATTEMPTS:
        return False, median(gaps) if gaps else 0.0
    typical = median(gaps)
    third = max(1, len(gaps) // 3)
    growing = median(gaps[-third:]) >= BACKOFF_GROWTH * max(median(gaps[:third]), 1e-3)
    return typical < STORM_MAX_INTERVAL_S and not growing, typical


def judge_backoff(activity: DeviceActivity, outage: Outage) -> Outcome:
    """FAIL for each peer the device tried at least STORM_MIN_ATTEMPTS times during the outage
    at a median gap under STORM_MAX_INTERVAL_S that did not widen."""
    missing = [f"capture file unreadable: {entry}" for entry in activity.unreadable]
    if activity.truncated:
        missing.append("the capture had more peers or packets than the analysis keeps")
    during = [t for t in activity.device_packets if outage.cut_at <= t <= outage.restored_at]
    if not during:
        missing.append(
            f"the capture shows nothing the device sent while the {outage.what} was cut: "
            "its reconnection attempts could not be seen"
        )
    findings, measurements = [], []
    for peer in activity.peers:
        attempts = [t for t in peer.attempts if outage.cut_at <= t <= outage.restored_at]
        if not attempts:
            continue
        storm, typical = _storm(attempts)
        measurements.append(Measurement(f"{peer.name} attempts during the outage", len(attempts)))
        if storm:
            findings.append(
                f"{peer.name}: {len(attempts)} connection attempts in "
                f"{outage.restored_at - outage.cut_at:.0f} s of outage, {typical:.2f} s apart "
                "without backing off"
            )
    seconds = outage.restored_at - outage.cut_at
    return Outcome.from_findings(
        findings,
        missing=missing,
        passed=f"no peer was tried {STORM_MIN_ATTEMPTS} or more times at a near-constant gap under "
        f"{STORM_MAX_INTERVAL_S:g} s during the {seconds:.0f} s outage",
        measurements=tuple(measurements),
        details={"device_packets_during_outage": len(during)},
    )
