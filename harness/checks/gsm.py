"""FS38-GSM-01 (false base stations, IMSI catching) and FS38-GSM-02 (SMS) decisions.

Pure: the suites gather the evidence (the cell's events per phase, SMS delivery outcomes, the
device's configuration and log before and after, the module's radio-access setting read by AT
commands) and these functions decide. Over-the-air verdicts rest on what the network saw and on
the device's behaviour, never on the profile's word alone; a declared weakness is a finding, a
declared strength is only what the test then checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.cell.model import CellEvent, SmsDelivery
from harness.observations.cell import CellPhase
from harness.results.outcome import Outcome
from harness.util.text import masked_identity

# Radio access technologies that expose the device to 2G false base stations (no mutual auth).
GSM_RATS = {"gsm", "gprs", "edge"}
INITIAL_MESSAGES = ("location-updating-request", "paging-response", "cm-service-request")


# --- FS38-GSM-01: the module's configuration ---------------------------------------------------


def gsm_allowed_by_declaration(radio_access: list[str] | None) -> bool | None:
    if radio_access is None:
        return None
    return bool(GSM_RATS & set(radio_access))


def judge_radio_access(*, allowed: frozenset[str] | None, command: str, answer: str,
                        declared: list[str] | None, null_cipher_rejected: bool | None,
                        gsm_feature: bool | None = None) -> Outcome:  # fmt: skip
    """The module's radio-access setting against the profile's declaration.

    A RAT the module may use that the profile does not declare is hidden exposure (a 2G fallback
    nobody mentioned); 2G that the maker says accepts unciphered connections is a declared
    weakness. 2G that is declared and said to refuse A5/0 is left to the over-the-air test.
    """
    findings, missing = [], []
    reading = f"{command} -> {answer}"
    if allowed is None:
        missing.append(f"the module's radio access setting ({reading})")
    if declared is None:
        missing.append("profile: cellular.radio_access")
    if allowed is not None and declared is not None:
        hidden = sorted(set(allowed) - set(declared))
        if hidden:
            findings.append(
                f"the module may use {', '.join(hidden)}, which the profile does not declare ({reading})"
            )
    module_2g = sorted(GSM_RATS & set(allowed or ()))
    if gsm_feature is False and module_2g:
        findings.append(f"the profile says the device has no 2G (features.gsm: false), but the module may use "
                        f"{', '.join(module_2g)} ({reading})")  # fmt: skip
    uses_2g = bool(module_2g) or bool(gsm_allowed_by_declaration(declared)) or gsm_feature is True
    if uses_2g and null_cipher_rejected is False:
        findings.append("2G is allowed and the maker declares that unciphered (A5/0) networks are accepted "
                        "(cellular.null_cipher_rejected: false)")  # fmt: skip
    if findings:
        return Outcome.failed(findings, details={"reading": reading})
    if missing:
        return Outcome.inconclusive("missing evidence: " + "; ".join(missing), missing)
    detail = (
        "2G is used, so the false-base-station test decides whether unciphered cells are refused"
        if uses_2g
        else "no 2G: a 2G false base station cannot reach the module"
    )
    return Outcome.passed(
        f"the module uses only declared radio access ({', '.join(sorted(allowed))}); {detail}"
    )


# --- FS38-GSM-01: over the air -------------------------------------------------------------------


@dataclass
class _Device:
    """The device's identities as the network learnt them (IMSI, then every TMSI it was given)."""

    imsi: str
    tmsis: set[str] = field(default_factory=set)
    connections: set[int] = field(default_factory=set)

    def identities(self) -> set[str]:
        return {f"IMSI {self.imsi}"} | {f"TMSI {t}" for t in self.tmsis}


def _follow(device: _Device, event: CellEvent) -> bool:
    """Track the device through the events; True if this event is in one of its connections."""
    if event.kind in INITIAL_MESSAGES and event.direction == "uplink":
        if event.identity.upper() in {i.upper() for i in device.identities()}:
            device.connections.add(event.connection)
    mine = event.connection in device.connections and event.connection != 0
    if mine and event.direction == "downlink" and event.identity.startswith("TMSI "):
        device.tmsis.add(event.identity.split(" ", 1)[1].lower())  # LU accept / TMSI reallocation
    return mine


def judge_false_base_station(*, imsi: str, phases: Sequence[CellPhase], null_cipher_rejected: bool | None,
                              radio: str) -> Outcome:  # fmt: skip
    """Did the device attach to a false cell, or give its IMSI away to one?

    Phases run in order: the genuine cell first (the device attaches and gets a TMSI), then
    the false ones. Attached to a false cell (the network had it attached, or a silent probe SMS
    reached it) is a FAIL unless the maker declares that it attaches and reports it; an IMSI sent
    on a false cell while the device held a TMSI is a FAIL. A false cell the device never tried
    (no location update seen) proves nothing: INCONCLUSIVE.
    """
    device = _Device(imsi)
    findings, missing, notes = [], [], []
    masked = masked_identity(imsi)
    genuine_seen = False
    for phase in phases:
        tried = False
        for event in sorted(phase.events, key=lambda e: e.when):
            held_tmsi = bool(device.tmsis)
            if not _follow(device, event):
                continue
            if event.direction == "uplink" and event.kind in INITIAL_MESSAGES:
                tried = True
            if not phase.false or event.direction != "uplink" or event.identity != f"IMSI {imsi}":
                continue
            if held_tmsi:
                what = (
                    "IDENTITY RESPONSE"
                    if event.kind == "identity-response"
                    else event.kind.upper().replace("-", " ")
                )
                findings.append(f"the device disclosed its IMSI ({masked}) to the {phase.name} cell in a "
                                f"{what} before any authentication ({phase.cell})")  # fmt: skip
        if not phase.false:
            genuine_seen = phase.attached
            if not phase.attached:
                missing.append(f"the device did not attach to the genuine cell ({phase.cell})")
            elif not device.tmsis:
                missing.append("the genuine cell assigned the device no TMSI, so IMSI use cannot be judged")
            continue
        taken = phase.attached or bool(phase.probe and phase.probe.delivered)
        how = "the network had it attached" if phase.attached else "a silent probe SMS reached it"
        if taken:
            declared = (
                " (as its profile declares: cellular.null_cipher_rejected: false)"
                if null_cipher_rejected is False
                else ""
            )
            findings.append(f"the device attached to the {phase.name} cell ({phase.cell}): {how}{declared}")
        if not tried:
            missing.append(f"the device made no location update to the {phase.name} cell ({phase.cell}), "
                           "so its behaviour there was not observed")  # fmt: skip
        if phase.probe is not None:
            notes.append(f"probe on the {phase.name} cell: {phase.probe.outcome} ({phase.probe.detail})")
    details = {"radio": radio, "tmsis_seen": sorted(device.tmsis), "notes": notes}
    if findings:
        return Outcome.failed(findings, details=details)
    if missing or not genuine_seen:
        return Outcome.inconclusive("missing evidence: " + "; ".join(missing or ["no genuine phase"]), missing,
                                    details=details)  # fmt: skip
    refused = ", ".join(p.name for p in phases if p.false)
    return Outcome.passed(
        f"the device refused every false cell ({refused}): it tried each, stayed unattached (silent probes "
        f"undelivered) and sent its IMSI to none; radio: {radio}",
        details=details,
    )


# --- FS38-GSM-02 -----------------------------------------------------------------------------------


def sms_declaration_findings(class0_ignored: bool | None, ota_authenticated: bool | None,
                             configuration_accepted: bool | None) -> tuple[list[str], list[str]]:  # fmt: skip
    """(findings, missing fields) from the profile's declared SMS handling."""
    findings, missing = [], []
    if class0_ignored is False:
        findings.append("class-0/silent SMS are acted on (declared cellular.class0_sms_ignored: false)")
    if ota_authenticated is False:
        findings.append(
            "OTA/SIM-toolkit SMS are acted on without authentication (cellular.ota_sms_authenticated)"
        )
    if configuration_accepted is True:
        findings.append(
            "the application changes its configuration from SMS content (cellular.sms_configuration_accepted)"
        )
    for name, value in (("class0_sms_ignored", class0_ignored), ("ota_sms_authenticated", ota_authenticated),
                        ("sms_configuration_accepted", configuration_accepted)):  # fmt: skip
        if value is None:
            missing.append(f"profile: cellular.{name}")
    return findings, missing


NO_SMS_CONFIGURATION = (
    "the profile does not say what an SMS could change (profile: cellular.sms_configuration)"
)


def judge_sms_declarations(class0_ignored: bool | None, ota_authenticated: bool | None,
                           configuration_accepted: bool | None) -> Outcome:  # fmt: skip
    """Without a declared way to configure the device by SMS no crafted SMS can be judged: a
    declared weakness FAILs, otherwise nothing is decided (INCONCLUSIVE)."""
    findings, _ = sms_declaration_findings(class0_ignored, ota_authenticated, configuration_accepted)
    if findings:
        return Outcome.failed(findings)
    return Outcome.inconclusive(NO_SMS_CONFIGURATION, ["profile: cellular.sms_configuration"])


@dataclass(frozen=True)
class CraftedSms:
    """One crafted SMS, what it carried (a unique marker), and how its delivery ended."""

    label: str
    sender: str  # "an unknown sender", "the spoofed management number", "the management number with the PIN"
    marker: str
    delivery: SmsDelivery
    reaches_application: bool  # a message the application should see (and so must log)
    authorised: bool = False  # carries the real PIN: only its kind (class 0, silent) must stop it
    exec_marker: str | None = None  # a file a command in the message would create


@dataclass(frozen=True)
class PositiveControl:
    delivery: SmsDelivery
    applied: bool


def judge_crafted_sms(*, declared_findings: Iterable[str], control: PositiveControl | None,
                       crafted: Sequence[CraftedSms], configuration_after: str, executed: Iterable[str],
                       log_text: str | None, radio: str) -> Outcome:  # fmt: skip
    """Crafted SMS must change nothing, run nothing, and be logged where they reach the application.

    The genuine configuration SMS (the positive control) must have worked, or an unchanged
    configuration proves nothing; a crafted SMS the network could not deliver leaves its effect
    unknown. Each message carries its own marker, so a change is attributed to the one that made it.
    """
    findings = list(declared_findings)
    missing = []
    ran = set(executed)
    if control is None:
        missing.append("a positive control (profile: cellular.sms_configuration.authenticated_command)")
    elif not control.delivery.delivered:
        missing.append(f"the genuine configuration SMS was not delivered ({control.delivery.detail})")
    elif not control.applied:
        missing.append("the device did not apply the genuine configuration SMS, so an unchanged "
                       "configuration after the crafted ones proves nothing")  # fmt: skip
    for sms in crafted:
        if not sms.delivery.delivered:
            missing.append(f"{sms.label} was not delivered ({sms.delivery.outcome}: {sms.delivery.detail})")
            continue
        if sms.marker in configuration_after:
            if sms.authorised:
                findings.append(f"{sms.label} reached the application: the authorised command it carried changed "
                                "the configuration (class-0/silent SMS must not)")  # fmt: skip
            else:
                findings.append(f"{sms.label} from {sms.sender} changed the device's configuration")
        if sms.exec_marker and sms.exec_marker in ran:
            findings.append(
                f"{sms.label} from {sms.sender} ran a command on the device ({sms.exec_marker} was created)"
            )
    if log_text is None:
        missing.append("the device's log (profile: cellular.sms_configuration.log_command)")
    else:
        for sms in crafted:
            if sms.delivery.delivered and sms.reaches_application and sms.marker not in log_text:
                findings.append(f"{sms.label} from {sms.sender} reached the device but is not in its log")
    details = {
        "radio": radio,
        "delivered": sum(1 for s in crafted if s.delivery.delivered),
        "sent": len(crafted),
    }
    if findings:
        return Outcome.failed(findings, details=details)
    if missing:
        return Outcome.inconclusive("missing evidence: " + "; ".join(missing), missing, details=details)
    return Outcome.passed(
        f"{len(crafted)} crafted SMS (class 0, silent, binary port-addressed, WAP push, SIM OTA, spoofed and "
        f"unknown senders, command injection) changed nothing and ran nothing, each one that reached the "
        f"application is logged, and the genuine configuration SMS worked; radio: {radio}",
        details=details,
    )
