"""FS.25's device-visible update channel: the patch level a user can read, and the fallback from
the operator's update server to the manufacturer's.

SSU-COM-0040 runs the command the profile declares (`update_policy.patch_level_command`, a shell
command or an AT command on the modem port) and reads a security patch level and the date it was
applied. SSU-TES-0020 uses the lab's two update servers (harness.lab.services.update_checks): with
both up the device's update check should reach the operator's; then the operator's is taken down
and the device's next check must reach the manufacturer's within a bounded time, as its access
log shows. The automatic-check test triggers nothing: it looks for any request of the device's own to
either server in a stretch of the device's current life as long as the declared interval
(`update_policy.automatic_check_interval_s`) plus a margin, the latest one the servers' logs
already cover (harness.device.observation: it waits only for what is missing, and ends on the
check); the checks the fallback test started are left out by their time windows. The
decisions are in harness.checks.update_channel.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from harness.analysis.capture import write_window
from harness.capabilities import AtPort
from harness.checks.update_channel import (
    PATCH_LEVEL_FIELD,
    AutomaticCheckWatch,
    FallbackObservation,
    PatchLevelReading,
    ServerRequest,
    automatic_check_applicability,
    fallback_applicability,
    judge_automatic_check,
    judge_fallback,
    judge_patch_level,
    lab_server_role,
    parse_patch_level,
    release_patch_fields,
    untriggered_requests,
)
from harness.device.observation import observe
from harness.drivers.modem import AtModem
from harness.errors import DeviceError
from harness.lab.services.update_checks import MANUFACTURER, OPERATOR, ROLES, UpdateCheckServers
from harness.plugin.conclusions import conclude, inconclusive
from harness.probes.update_agent import REFERENCE_AGENT
from harness.util.deadlines import wait_until

UPDATE_SERVERS_SERVICE = UpdateCheckServers.name
REFERENCE_UPDATE_CHECK = "hilsec-update-check"  # the reference device's scheduled update check
COMMAND_TIMEOUT_S = 30.0
FALLBACK_DEADLINE_S = 30.0  # from making the operator's server unreachable to the fallback
TRIGGERED_GRACE_S = 3.0  # a check the harness started has made its requests when it returns
POLL_S = 0.5
# On top of the declared interval: the check's own time (a server that does not answer costs the
# reference check 8 s before it tries the next) and the schedule's drift.
AUTOMATIC_CHECK_MARGIN_S = 15.0


# --- SSU-COM-0040 -------------------------------------------------------------------------------


def _read_patch_level(device, profile, command: str) -> PatchLevelReading:
    """Run the declared command: an AT command on the modem port, else a shell command."""
    if command.upper().startswith("AT"):
        stream = device.require(AtPort, f"send {PATCH_LEVEL_FIELD}").open()
        try:
            response = AtModem(stream).send(command, COMMAND_TIMEOUT_S)
        finally:
            stream.close()
        output, status = "\n".join(response.lines), (0 if response.ok else 1)
    else:
        result = device.run(command, timeout=COMMAND_TIMEOUT_S)
        output, status = result.output, result.status
    level, applied = parse_patch_level(output)
    return PatchLevelReading(command, output, status, level, applied)


@pytest.mark.requirement("SSU-COM-0040", "EN303645-5.3-11")
def test_patch_level_and_date_readable_on_device(device, profile, evidence):
    """The declared command shows the security patch level and when it was applied, both plausible."""
    command = profile.update_policy.patch_level_command
    if not command:
        inconclusive(
            f"{PATCH_LEVEL_FIELD} is not declared: the harness does not know how the device shows its "
            "security patch level"
        )
    reading = _read_patch_level(device, profile, command)
    release_text = device.run("cat /etc/hilsec-release 2>/dev/null", timeout=COMMAND_TIMEOUT_S).output
    today = dt.datetime.now(dt.UTC).date()
    outcome = judge_patch_level(reading, today=today, release_fields=release_patch_fields(release_text))
    evidence.write_json(
        "patch-level.json",
        {"reading": reading.as_dict(), "today": today.isoformat(), "assessment": outcome.as_dict()},
    )
    conclude(outcome)


# --- SSU-SEC-0001 (EN 303 645 5.3-4/5.3-5): the device's own update checks ---------------------


def _requests_since(servers: UpdateCheckServers, since: float) -> list[ServerRequest]:
    return [
        ServerRequest(role, entry.time, entry.client, entry.path)
        for role in ROLES
        for entry in servers.requests_since(role, since)
    ]


@pytest.mark.requirement(
    "SSU-SEC-0001", "EN303645-5.3-4", "EN303645-5.3-5", "EN18031-SUM-3", "TS103701-5.3-6-2a"
)
def test_device_checks_for_updates_on_its_own(device, profile, evidence):
    """Asking nothing, the harness sees the device's own update check reach one of the lab's
    update-check servers within the declared interval plus a margin. It runs before the fallback
    test: the checks that one starts would leave the stretch before them unusable."""
    interval = profile.update_policy.automatic_check_interval_s
    servers = device.lab_services.get(UPDATE_SERVERS_SERVICE)
    addresses = {role: servers.address(role) for role in ROLES} if servers is not None else {}
    decided = automatic_check_applicability(interval, addresses, AUTOMATIC_CHECK_MARGIN_S)
    if decided is not None:
        conclude(decided)
    watch = AutomaticCheckWatch(interval, AUTOMATIC_CHECK_MARGIN_S, time.time(), 0.0, addresses)

    def own_check(start: float) -> bool:
        watch.started = start
        watch.requests = _requests_since(servers, start)
        watch.harness_checks = servers.harness_checks()
        return bool(untriggered_requests(watch))

    # The stretch watched is the latest of the device's current life that fits (harness.device.
    # observation), after every check the harness started: their requests cannot be told from the
    # device's own, so a stretch with one in it would have less time to show the device's.
    after_triggered = max((end for _, end in servers.harness_checks()), default=None)
    window = observe(device, watch.bound_s, not_before=after_triggered, event=own_check, poll_s=POLL_S)
    own_check(window.start)
    watch.ended = window.end
    outcome = judge_automatic_check(watch)
    evidence.write_json(
        "automatic-update-check.json",
        {"watch": watch.as_dict(), "observation": window.as_dict(), "assessment": outcome.as_dict()},
    )
    conclude(outcome)


# --- SSU-TES-0020 -------------------------------------------------------------------------------


def _update_servers(device, profile) -> UpdateCheckServers:
    """The lab's update servers standing in for the declared ones; NOT_APPLICABLE / INCONCLUSIVE."""
    policy = profile.update_policy
    decided = fallback_applicability(policy.operator_update_server, policy.manufacturer_update_server)
    if decided is not None:
        conclude(decided)
    roles = (
        lab_server_role(policy.operator_update_server),
        lab_server_role(policy.manufacturer_update_server),
    )
    if roles != (OPERATOR, MANUFACTURER):
        inconclusive(f"the lab runs the servers {OPERATOR} and {MANUFACTURER}; the profile declares {roles}")
    servers = device.lab_services.get(UPDATE_SERVERS_SERVICE)
    if servers is None:
        inconclusive(f"the lab runs no update servers (lab service {UPDATE_SERVERS_SERVICE!r})")
    return servers


def _next_check(device, servers, trigger, roles, output) -> tuple[str | None, float | None]:
    """Have the device check (or wait for its own check); which of `roles` it reached, and when."""
    since, started = time.time(), time.monotonic()
    if trigger:
        try:
            output.append(device.run(trigger, timeout=FALLBACK_DEADLINE_S).output)
            servers.note_harness_check(since, time.time() + TRIGGERED_GRACE_S)
        except DeviceError as err:
            output.append(f"[harness] {trigger} did not finish: {err}")
            servers.note_harness_check(since, time.time() + FALLBACK_DEADLINE_S)  # it may still run
    waited = time.monotonic() - started
    deadline = min(FALLBACK_DEADLINE_S, waited + TRIGGERED_GRACE_S) if trigger else FALLBACK_DEADLINE_S

    def reached() -> str | None:
        return next((role for role in roles if servers.requests_since(role, since)), None)

    role = wait_until(reached, deadline - waited, POLL_S)
    return (role, time.monotonic() - started) if role else (None, None)


@pytest.mark.requirement("SSU-TES-0020", "EN303645-5.3-2", "EN18031-SUM-1", "CLP13_7.5")
def test_falls_back_to_manufacturer_update_server(device, profile, evidence):
    """With the operator's update server unreachable, the device's next check reaches the manufacturer's."""
    servers = _update_servers(device, profile)
    # The reference device's check is started on demand; another device is watched for its own.
    trigger = REFERENCE_UPDATE_CHECK if profile.features.kind("software_update") == REFERENCE_AGENT else None
    observation = FallbackObservation(
        operator_address=servers.address(OPERATOR),
        manufacturer_address=servers.address(MANUFACTURER),
        deadline_s=FALLBACK_DEADLINE_S,
    )
    started = time.time()
    observation.baseline_server, _ = _next_check(
        device, servers, trigger, (OPERATOR, MANUFACTURER), observation.baseline_output
    )
    blocked_at = time.time()
    servers.make_unreachable(OPERATOR)
    try:
        if observation.baseline_server is not None:
            _, observation.fallback_seconds = _next_check(
                device, servers, trigger, (MANUFACTURER,), observation.device_output
            )
        observation.requests_after_block = {
            role: len(servers.requests_since(role, blocked_at)) for role in (OPERATOR, MANUFACTURER)
        }
    finally:
        servers.restore(OPERATOR)
    ended = time.time()
    _record_fallback_evidence(device, servers, observation, evidence, trigger, started, ended)
    conclude(judge_fallback(observation))


def _record_fallback_evidence(device, servers, observation, evidence, trigger, started, ended) -> None:
    log = ""
    if trigger:
        log = device.run(
            f"(cat /var/log/messages; logread) 2>/dev/null | grep -F {trigger} | tail -n 20",
            timeout=COMMAND_TIMEOUT_S,
        ).output
    evidence.write_json(
        "update-fallback.json",
        {
            "observation": observation.as_dict(),
            "trigger": trigger,
            "access_logs": {
                role: [entry.as_dict() for entry in servers.requests_since(role, started)]
                for role in (OPERATOR, MANUFACTURER)
            },
            "device_log": log.splitlines(),
            "assessment": judge_fallback(observation).as_dict(),
        },
    )
    if device.capture_path is not None and device.capture_path.is_file():
        try:
            write_window(device.capture_path, evidence.path("update-checks.pcap"), started - 1, ended + 1)
        except (OSError, ValueError):
            pass  # the capture is corroboration; the servers' access logs decide
