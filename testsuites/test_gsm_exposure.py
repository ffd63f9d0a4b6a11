"""FS38-GSM-01 (false base stations, IMSI catching) and FS38-GSM-02 (SMS), over the air.

Through the lab's test cell (capability TestCell: an Osmocom network, an Amarisoft Callbox, a
SCPI callbox): the cell plays a downgrade cell (new location area, A5/0 only, no
authentication) and an IMSI catcher (another new area, a network that knows no TMSI and asks
for IMSI and IMEI); the network's own events and silent probe SMS say whether the device attached
or gave its IMSI away. Then crafted SMS (class 0, silent type 0, port-addressed binary, WAP push
with OMA client provisioning, SIM OTA, spoofed and unknown senders, a shell command in the value)
go to the device, whose configuration and log are read before and after on its shell, after a
genuine configuration SMS proved that the path works. The module's radio-access setting is read
over its AT port. Each cellular verdict records which radio produced it (pytest property "radio").
"""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from harness.capabilities import AtPort, TestCell
from harness.cell.model import Subscriber
from harness.checks.gsm import (
    CraftedSms,
    PositiveControl,
    judge_crafted_sms,
    judge_false_base_station,
    judge_radio_access,
    judge_sms_declarations,
    sms_declaration_findings,
)
from harness.drivers.modem import AtModem
from harness.errors import DeviceError, HarnessSetupError
from harness.modems.profiles import profile as module_profile
from harness.plugin.conclusions import conclude, inconclusive, not_applicable
from harness.probes.cell import crafted_messages, genuine_configuration, run_false_cells
from harness.util.deadlines import Deadline, wait_until

APPLY_WAIT_S = 20.0  # how long the genuine configuration SMS may take to show on the device
# The application handles stored SMS one after another, and a busy device may still be at it when
# the last one is delivered: the lab reads the log until it holds every message that should have
# reached the application, or until it has stopped growing for QUIET_S (at most SETTLE_MAX_S).
QUIET_S = 15.0
SETTLE_MAX_S = 120.0
EXEC_PROBE = "ls /tmp/ 2>/dev/null | grep hilsec-sms-exec- || true"


def _cellular(profile) -> None:
    reason = profile.features.absence_reason("cellular")
    if reason:
        not_applicable(reason)
    if profile.cellular is None:
        inconclusive("the profile declares no cellular section (profile: cellular)")


def _subscriber(profile) -> Subscriber:
    c = profile.cellular
    missing = [f"profile: cellular.{name}" for name in ("imsi", "ki") if not getattr(c, name)]
    if missing:
        inconclusive("the test cell must know the device's SIM: " + ", ".join(missing))
    return Subscriber(c.imsi, c.ki, (c.msisdn or "").lstrip("+"))


def _cell(device, record_property, purpose: str) -> TestCell:
    cell = device.require(TestCell, purpose)
    record_property("radio", cell.radio)
    return cell


def _timeouts(device) -> tuple[float, float]:
    settings = device.lab.cell
    return (float(settings.attach_timeout_s), float(settings.sms_timeout_s)) if settings else (60.0, 30.0)


@pytest.mark.requirement("FS38-GSM-01", "EN303645-5.5-1", "EN18031-SCM-3", "CLP13_6.19")
def test_false_base_station_is_refused(device, profile, evidence, record_property):
    """A downgrade cell (A5/0, no authentication) and an IMSI catcher: no attach, no IMSI."""
    _cellular(profile)
    subscriber = _subscriber(profile)
    cell = _cell(device, record_property, "play a false base station")
    attach_timeout, sms_timeout = _timeouts(device)
    try:
        cell.add_subscriber(subscriber)
        phases = run_false_cells(cell, subscriber.imsi, attach_timeout=attach_timeout, sms_timeout=sms_timeout,
                                 progress=device.progress)  # fmt: skip
    except HarnessSetupError as err:
        inconclusive(f"the test cell failed: {err}")
    finally:
        evidence.write_json("cell-events.json", [e.to_json() for e in cell.events()])
        cell.evidence(evidence.dir)
    evidence.write_json("false-base-station.json", [
        {"phase": p.name, "cell": p.cell, "attached": p.attached, "probe": asdict(p.probe) if p.probe else None,
         "events": len(p.events), "from": min((e.when for e in p.events), default=None),
         "to": max((e.when for e in p.events), default=None)}
        for p in phases
    ])  # fmt: skip
    outcome = judge_false_base_station(
        imsi=subscriber.imsi, phases=phases, null_cipher_rejected=profile.cellular.null_cipher_rejected,
        radio=cell.radio,
    )  # fmt: skip
    evidence.write_json(
        "decision.json", {"verdict": str(outcome.verdict), "reason": outcome.reason, **outcome.details}
    )
    conclude(outcome)


@pytest.mark.requirement("FS38-GSM-01", "EN303645-5.5-1", "EN18031-SCM-3", "CLP13_6.19")
@pytest.mark.requirement("TS103701-5.6-3-2c")
def test_module_uses_only_declared_radio_access(device, profile, evidence):
    """The module's radio-access setting (AT) against the profile; hidden 2G fallback is a FAIL."""
    _cellular(profile)
    at_port = device.get(AtPort)
    allowed, command, answer = None, "AT", "profile declares no modem AT port (profile: cellular.modem)"
    if at_port is not None:
        modem_key = getattr(profile.cellular, "module", None)
        stream = at_port.open()
        try:
            modem = AtModem(stream, profile=module_profile(modem_key) if modem_key else None)
            reading = modem.radio_access()
            allowed, command, answer = reading.allowed, reading.command, reading.answer
        except DeviceError as err:
            answer = f"no answer: {err}"
        finally:
            stream.close()
    evidence.write_json("radio-access.json", {"declared": profile.cellular.radio_access, "command": command,
                                              "answer": answer, "allowed": sorted(allowed or [])})  # fmt: skip
    conclude(judge_radio_access(allowed=allowed, command=command, answer=answer,
                                 declared=profile.cellular.radio_access,
                                 null_cipher_rejected=profile.cellular.null_cipher_rejected,
                                 gsm_feature=profile.features.has("gsm")))  # fmt: skip


def _show(device, command: str) -> str:
    result = device.run(command)
    return result.output


def _wait_for(device, command: str, marker: str, timeout: float) -> bool:
    return wait_until(lambda: marker in _show(device, command), timeout, 1.0)


def _settled_log(device, command: str | None, markers: list[str]) -> str | None:
    """The device's log once it holds every marker, or once it stopped growing."""
    if not command:
        time.sleep(QUIET_S)
        return None
    settle = Deadline.after(SETTLE_MAX_S)
    text = _show(device, command)
    quiet = Deadline.after(QUIET_S)
    while not all(marker in text for marker in markers):
        if quiet.expired or settle.expired:
            break
        time.sleep(2.0)
        latest = _show(device, command)
        if latest != text:
            text, quiet = latest, Deadline.after(QUIET_S)  # it grew: a fresh quiet window
    return text


@pytest.mark.requirement("FS38-GSM-02", "EN303645-5.13-1", "EN18031-ACM-2", "CLP13_6.12")
@pytest.mark.requirement("TS103701-5.13-1-2a")
def test_crafted_sms_change_nothing(device, profile, evidence, record_property):
    """Crafted SMS from unknown or spoofed senders change no configuration, run nothing, are logged."""
    _cellular(profile)
    if profile.features.absence_reason("sms"):
        not_applicable(profile.features.absence_reason("sms"))
    c = profile.cellular
    declared, _ = sms_declaration_findings(
        c.class0_sms_ignored, c.ota_sms_authenticated, c.sms_configuration_accepted
    )
    sms = c.sms_configuration
    if sms is None:
        conclude(
            judge_sms_declarations(
                c.class0_sms_ignored, c.ota_sms_authenticated, c.sms_configuration_accepted
            )
        )
    subscriber = _subscriber(profile)
    cell = _cell(device, record_property, "deliver crafted SMS")
    attach_timeout, sms_timeout = _timeouts(device)
    try:
        cell.add_subscriber(subscriber)
        attached = cell.wait_attached(subscriber.imsi, attach_timeout)
        if not attached.attached:
            inconclusive(f"the device did not attach to the test cell: {attached.detail}")
        control = None
        if sms.authenticated_command and sms.authorised_sender:
            genuine, mark = genuine_configuration(sms.authenticated_command, sms.value_template, sms.secret,
                                                  sms.authorised_sender)  # fmt: skip
            delivery = cell.send_sms(subscriber.imsi, genuine, sms_timeout)
            applied = delivery.delivered and _wait_for(device, sms.show_command, mark, APPLY_WAIT_S)
            control = PositiveControl(delivery, applied)
        messages = crafted_messages(sms.command, sms.value_template, authenticated=sms.authenticated_command,
                                    secret=sms.secret, authorised_sender=sms.authorised_sender)  # fmt: skip
        deliveries = [cell.send_sms(subscriber.imsi, m.sms, sms_timeout) for m in messages]
    except HarnessSetupError as err:
        inconclusive(f"the test cell failed: {err}")
    finally:
        evidence.write_json("cell-events.json", [e.to_json() for e in cell.events()])
        cell.evidence(evidence.dir)
    log_text = _settled_log(device, sms.log_command, [
        m.marker for m, d in zip(messages, deliveries, strict=True) if d.delivered and m.reaches_application
    ])  # fmt: skip
    after = _show(device, sms.show_command)
    executed = _show(device, EXEC_PROBE).split()
    crafted = [
        CraftedSms(m.sms.label, m.sender, m.marker, d, m.reaches_application, m.authorised, m.exec_marker)
        for m, d in zip(messages, deliveries, strict=True)
    ]
    evidence.write_json("crafted-sms.json", [
        {"label": m.sms.label, "sender": m.sender, "marker": m.marker, "tp": m.sms.summary(),
         "delivery": asdict(d)} for m, d in zip(messages, deliveries, strict=True)
    ])  # fmt: skip
    evidence.write_text("configuration-after.txt", after)
    if log_text is not None:
        evidence.write_text("device-log.txt", log_text[-200_000:])
    outcome = judge_crafted_sms(declared_findings=declared, control=control, crafted=crafted,
                                 configuration_after=after, executed=executed, log_text=log_text,
                                 radio=cell.radio)  # fmt: skip
    evidence.write_json(
        "decision.json", {"verdict": str(outcome.verdict), "reason": outcome.reason, **outcome.details}
    )
    conclude(outcome)
