"""FS38-07: security events are logged, exported off the device, and exported securely.

The test causes real security events (a failed console login, a failed network login over SSH
and, where the device has an update agent, a rejected update) and waits for each at the lab's
syslog receiver, which listens on UDP, TCP and TLS. An event that never arrives is a FAIL naming
it; a log that arrives in plaintext is a FAIL of "securely".
"""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from harness.checks.log_export import SecurityEvent, judge_log_export
from harness.errors import DeviceError
from harness.plugin.conclusions import conclude, inconclusive
from harness.probes.logins import try_ssh_login
from harness.probes.netprobe import probe_tcp

pytestmark = pytest.mark.requirement("FS38-07", "CLP13_6.13")

EXPORT_TIMEOUT_S = 20.0  # how long one event may take from the device to the collector
# A device's log export may still be connecting when the test starts (a slow boot); its first
# record of any kind shows the channel is up. A device that sends nothing still fails, later.
CHANNEL_WARMUP_S = 90.0
WRONG_PASSWORD = "hilsec-wrong-password-7c1e"
PROBE_PACKAGE = "/tmp/hilsec-log-probe.swu"
# How each known update agent is asked to install a package; the first one on PATH is used.
UPDATE_AGENTS = (
    ("hilsec-update", f"hilsec-update install {PROBE_PACKAGE}"),
    ("swupdate", f"swupdate -L -c -i {PROBE_PACKAGE}"),
)
UPDATE_FAILURE_WORDS = r"fail|reject|refus|invalid|signature|verif|error|corrupt|bad"


def _syslog_receiver(device):
    service = device.lab_services.get("syslog")
    receiver = getattr(service, "receiver", None)
    if receiver is None:
        inconclusive("the lab runs no syslog receiver for this device")
    return receiver


def _wait(receiver, event: SecurityEvent) -> None:
    """Wait for the event's record, so the next event cannot be mistaken for this one."""
    receiver.wait_for(event.matches, EXPORT_TIMEOUT_S)


def _failed_console_login(device) -> SecurityEvent:
    settings = device.login_settings
    if settings.password == WRONG_PASSWORD:
        inconclusive("the lab's password is the test's wrong password")
    device.logout()
    induced = time.time()
    if device.console.try_login(settings.username, WRONG_PASSWORD, settings, timeout=device.login_timeout):
        device.mark_logged_in()
        inconclusive("the console accepted a wrong password, so no failed login could be caused")
    device.shell()  # back in with the lab's credentials for whatever runs next
    return SecurityEvent(
        f"failed console login for {settings.username!r}",
        induced,
        identifiers=(settings.username,),
        excludes=(device.lab_address,),  # a record naming the lab's address is the network login
    )


def _failed_ssh_login(device, evidence) -> tuple[SecurityEvent | None, str]:
    settings = device.login_settings
    port, _declared = device.login_port("ssh")
    host, host_port = device.endpoint("tcp", port)
    with device.lab_side():
        state = probe_tcp(host, host_port)
        if not state.open:
            return None, f"no SSH service answers on port {port} ({state.detail})"
        induced = time.time()
        attempt = try_ssh_login(
            host, host_port, settings.username, WRONG_PASSWORD, settings,
            transcript=evidence.path("ssh-wrong-password.log"), secrets=device.secrets,
            timeout=device.login_timeout,
        )  # fmt: skip
    if attempt.accepted:
        inconclusive("SSH accepted a wrong password, so no failed login could be caused")
    if not attempt.service_present or attempt.detail != "refused":
        return None, f"SSH on port {port} did not ask for a password ({attempt.detail})"
    event = SecurityEvent(
        f"failed SSH login for {settings.username!r} from {device.lab_address}",
        induced,
        identifiers=(settings.username, device.lab_address),
    )
    return event, ""


def _rejected_update(device, evidence) -> tuple[SecurityEvent | None, str]:
    present = [(a, c) for a, c in UPDATE_AGENTS if device.run(f"command -v {a} >/dev/null").status == 0]
    if not present:
        names = ", ".join(agent for agent, _ in UPDATE_AGENTS)
        return None, f"the device has no update agent on PATH ({names})"
    agent, command = present[0]
    device.run(f"echo 'not a signed update: hilsec log export probe' > {PROBE_PACKAGE}")
    induced = time.time()
    result = device.run(command, timeout=max(device.command_timeout, 60.0))
    device.run(f"rm -f {PROBE_PACKAGE}")
    evidence.write_text("update-attempt.txt", f"$ {command}\n{result.output}\nexit status {result.status}\n")
    if result.status == 0:
        inconclusive(f"{agent} accepted a package that is not an update, so no rejection could be caused")
    event = SecurityEvent(
        f"rejected update (unsigned package given to {agent})",
        induced,
        identifiers=(),
        failure_words=rf"(update|{agent}|swu).*({UPDATE_FAILURE_WORDS})|({UPDATE_FAILURE_WORDS}).*(update|{agent}|swu)",
    )
    return event, ""


def test_security_events_are_exported_securely(device, evidence):
    """Each induced security event reaches the lab's collector, timestamped, identifiable, encrypted."""
    receiver = _syslog_receiver(device)
    started = time.time()
    receiver.wait_for(lambda record: True, CHANNEL_WARMUP_S)  # the lab's receiver hears only this device
    events: list[SecurityEvent] = []
    not_applicable: dict[str, str] = {}
    try:
        events.append(_failed_console_login(device))
        _wait(receiver, events[-1])
        for name, cause in (
            ("failed SSH login", _failed_ssh_login),
            ("rejected update", _rejected_update),
        ):
            event, why = cause(device, evidence)
            if event is None:
                not_applicable[name] = why
                continue
            events.append(event)
            _wait(receiver, event)
    except DeviceError as err:
        inconclusive(f"could not cause the security events: {err}")

    records = receiver.records(since=started - 1.0)
    result = judge_log_export(events, records, not_applicable=not_applicable, wait_s=EXPORT_TIMEOUT_S)
    evidence.write_text(
        "syslog-records.txt", "".join(f"{r.received:.3f} {r.peer} {r.raw}\n" for r in records)
    )
    evidence.write_json(
        "log-export.json",
        {
            "receiver": {t: receiver.port(t) for t in ("udp", "tcp", "tls")},
            "events": [asdict(e) for e in events],
            "records": [asdict(r) for r in records],
            "assessment": {"findings": list(result.findings), **result.details},
        },
    )
    conclude(result)
