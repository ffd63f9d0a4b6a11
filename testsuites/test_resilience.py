"""Resilience to network and power outages (EN 303 645 5.9; TS 103 701 5.9-1, 5.9-2, 5.9-3).

The lab cuts the device's network link (NetworkLink) for OUTAGE_S, runs a command on its console
meanwhile, gives the link back and watches the capture: every peer the device kept talking to
before the cut (two-way, more than once: telemetry, log export, whatever it is and on whatever
port) must hear from it again and answer within RESUME_BOUND_S, and during the outage it must not
hammer any peer (many attempts at a short, constant gap). "Before" is the last BEFORE_S + POLL_S
(or more) of the device's current, undisturbed life, which the whole-run capture already holds
late in a session (harness.device.observation); the outage itself ends such a stretch. Then it
power-cycles the device (Power) and asks the same of the peers after the power came back. The
catalog has no resilience requirement (its 25 IDs are fixed by the design); these tests count for
FS38-07, the closest: the device's reporting to the lab's monitoring must survive outages. Their
TS 103 701 units say what they exercise.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass

import pytest

from harness.analysis.capture import write_window
from harness.analysis.capture.activity import DeviceActivity, device_activity
from harness.capabilities import Capture, NetworkLink, Power
from harness.checks.resilience import Outage, judge_backoff, judge_local_operation, judge_resumption
from harness.device.observation import observe
from harness.errors import DeviceError
from harness.plugin.conclusions import conclude, inconclusive
from harness.results.verdicts import Verdict
from harness.util.deadlines import wait_until

pytestmark = pytest.mark.requirement("FS38-07")

BEFORE_S = 15.0  # what the device does before an outage: the peers it must get back to
BEFORE_MAX_S = 60.0  # a device whose reporting starts late (a slow boot) is watched this long
OUTAGE_S = 30.0  # room for 6 short-gap attempts after a first one that waits its full timeout
RESUME_BOUND_S = 60.0  # a peer must be back this long after the network or power is
POLL_S = 5.0
CONSOLE_TIMEOUT_S = 15.0


@dataclass
class NetworkOutage:
    outage: Outage
    console_output: str | None
    console_status: int | None
    marker: str
    cut_error: str | None = None


_RUNS: dict[int, NetworkOutage] = {}


def _capture(device) -> Capture:
    capture = device.get(Capture)
    if capture is None:
        inconclusive(f"the lab takes no capture of this device's traffic ({Capture.CONFIG})")
    return capture


def _activity(device, capture: Capture, since: float) -> DeviceActivity:
    files = [path for path in capture.files() if path.is_file()]
    return device_activity(files, device.address, start=since)


def _expected_peers(activity: DeviceActivity, before_from: float, cut_at: float) -> set[str]:
    probe = Outage("network link", before_from, cut_at, cut_at, cut_at)
    return set(judge_resumption(activity, probe, RESUME_BOUND_S).details.get("expected_peers", ()))


def _watch_before(device) -> float:
    """A window of at least BEFORE_S, longer (up to BEFORE_MAX_S) while the set of peers the
    device keeps talking to is still empty or grew in the last POLL_S: the outage must come after
    its flows are up. The window is the latest of the device's current, undisturbed life that
    the capture covers (harness.device.observation), so late in a session it is already there.
    Returns where the window starts."""
    capture = _capture(device)
    before_from = observe(device, BEFORE_S + POLL_S).start

    def settled() -> bool:
        now = time.time()
        activity = _activity(device, capture, before_from)
        peers = _expected_peers(activity, before_from, now)
        return bool(peers) and peers == _expected_peers(activity, before_from, now - POLL_S)

    wait_until(settled, BEFORE_MAX_S - (time.time() - before_from), POLL_S)
    return before_from


def _network_outage(device) -> NetworkOutage:
    """Cut the link once per session (the first test to ask runs it; the others judge it)."""
    run = _RUNS.get(id(device))
    if run is not None:
        return run
    link = device.require(NetworkLink, "cut the device's network")
    device.shell()  # logged in before the cut: the console test must not depend on a login
    before_from = _watch_before(device)
    marker = f"hilsec-offline-{uuid.uuid4().hex[:8]}"
    cut_at = time.time()
    link.cut()
    output = status = None
    try:
        time.sleep(OUTAGE_S / 2)
        try:
            result = device.run(f"echo {marker}", timeout=CONSOLE_TIMEOUT_S)
            output, status = result.output, result.status
        except DeviceError:
            pass
        time.sleep(max(0.0, cut_at + OUTAGE_S - time.time()))
    finally:
        try:
            link.restore()
        finally:
            device.life.disturbed("network link cut")  # windows of its own traffic start after it
    restored_at = time.time()
    run = NetworkOutage(
        Outage("network link", before_from, cut_at, restored_at, restored_at), output, status, marker
    )
    _RUNS[id(device)] = run
    return run


def _wait_for_resumption(device, capture: Capture, outage: Outage):
    """Poll the capture until every expected peer is back or the bound has passed."""
    deadline = outage.restored_at + RESUME_BOUND_S
    while True:
        now = time.time()
        activity = _activity(device, capture, outage.before_from)
        observed = Outage(outage.what, outage.before_from, outage.cut_at, outage.restored_at, now)
        outcome = judge_resumption(activity, observed, RESUME_BOUND_S)
        if outcome.verdict is Verdict.PASS or now >= deadline:
            return observed, activity, outcome
        time.sleep(min(POLL_S, max(0.0, deadline - now)))


def _evidence(
    evidence, capture: Capture, outage: Outage, activity: DeviceActivity, outcome, name: str
) -> None:
    for index, path in enumerate(p for p in capture.files() if p.is_file()):
        write_window(
            path, evidence.path(f"{name}-{index + 1}.pcap"), outage.before_from, outage.observed_until
        )
    evidence.write_json(
        f"{name}.json",
        {
            "outage": asdict(outage),
            "peers": [
                {"peer": p.name, "sent": len(p.sent), "received": len(p.received), "attempts": p.attempts}
                for p in activity.peers
            ],
            "assessment": outcome.as_dict(),
        },
    )


@pytest.mark.requirement("TS103701-5.9-2-2a")
def test_device_works_locally_without_network(device, evidence):
    """The console must run a command while the device's network is cut."""
    run = _network_outage(device)
    outcome = judge_local_operation("network link", run.marker, run.console_output, run.console_status)
    evidence.write_json(
        "offline-console.json", {"outage": asdict(run.outage), "assessment": outcome.as_dict()}
    )
    conclude(outcome)


@pytest.mark.requirement("TS103701-5.9-1-2a")
def test_connections_resume_after_network_loss(device, evidence):
    """Every peer the device talked to repeatedly before the cut must hear from it and answer
    within RESUME_BOUND_S of the link coming back."""
    capture = _capture(device)
    run = _network_outage(device)
    outage, activity, outcome = _wait_for_resumption(device, capture, run.outage)
    _evidence(evidence, capture, outage, activity, outcome, "network-outage")
    conclude(outcome)


@pytest.mark.requirement("TS103701-5.9-3-2a")
def test_reconnection_backs_off(device, evidence):
    """During the outage no peer may be tried many times at a short, constant gap."""
    capture = _capture(device)
    run = _network_outage(device)
    activity = _activity(device, capture, run.outage.before_from)
    outcome = judge_backoff(activity, run.outage)
    _evidence(evidence, capture, run.outage, activity, outcome, "reconnection")
    conclude(outcome)


@pytest.mark.requirement("TS103701-5.9-1-2b", "TS103701-5.9-2-2b")
def test_connections_resume_after_power_loss(device, evidence):
    """After a power cycle the device boots to its login and every peer it talked to repeatedly
    before must hear from it and answer within RESUME_BOUND_S."""
    capture = _capture(device)
    device.require(Power, "power-cycle the device")
    device.shell()
    before_from = _watch_before(device)
    cut_at = time.time()
    device.power_cycle()  # back at its login prompt: its local functions are up again
    restored_at = time.time()
    outage = Outage("power", before_from, cut_at, restored_at, restored_at)
    outage, activity, outcome = _wait_for_resumption(device, capture, outage)
    _evidence(evidence, capture, outage, activity, outcome, "power-outage")
    conclude(outcome)
