"""FS38-SIP-01 / FS38-SIP-02 decisions: subscriber identity in SIP headers (or SIP carried only
over TLS, where no header is readable), and what a device's SIP user agent did with a request
sent straight to it around the registrar.

Pure logic over parsed messages and probe outcomes, so both directions are unit-tested without
a device.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from harness.analysis.sip import SipMessage
from harness.observations.sip import DirectRequestOutcome
from harness.results.outcome import Outcome

# RFC 7254 IMEI URN, and an IMS private identity derived from an IMSI (3GPP TS 23.003 13.3).
_IMEI_URN = re.compile(r"urn:gsma:imei:(\d{8})-(\d{6})-(\d)", re.IGNORECASE)
_IMSI_DERIVED = re.compile(r"(?<!\d)(\d{15})@ims\.mnc\d{3}\.mcc\d{3}\.3gppnetwork\.org", re.IGNORECASE)
_DIGITS_SEPARATED = re.compile(r"[\d][\d\-\s.]{13,}[\d]")


@dataclass(frozen=True)
class SubscriberIdentity:
    """Identities the device must not reveal: from the profile, or found by form."""

    imsi: str | None = None
    imei: str | None = None
    msisdn: str | None = None

    def values(self) -> dict[str, str]:
        return {
            kind: value
            for kind, value in (("IMSI", self.imsi), ("IMEI", self.imei), ("MSISDN", self.msisdn))
            if value
        }


@dataclass(frozen=True)
class IdentityFinding:
    kind: str  # "IMSI" | "IMEI" | "MSISDN"
    header: str
    message: str  # the start line of the message it was in
    route: str  # "udp 10.0.2.15:5060 -> 10.0.2.2:40000"

    def describe(self) -> str:
        return f"{self.kind} in plaintext SIP header {self.header} of '{self.message}' ({self.route})"


def summarize_findings(findings: Iterable[IdentityFinding]) -> str:
    """One clause per message and route, naming every header per identity kind: short enough for a
    verdict reason (capped in reports) while still naming each header."""
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for finding in findings:
        kinds = groups.setdefault((finding.message, finding.route), {})
        kinds.setdefault(finding.kind, []).append(finding.header)
    clauses = []
    for (message, route), kinds in groups.items():
        named = "; ".join(
            f"{kind} in plaintext SIP header{'s' if len(headers) > 1 else ''} {', '.join(headers)}"
            for kind, headers in kinds.items()
        )
        clauses.append(f"{named} of '{message}' ({route})")
    return " | ".join(clauses)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _fields(message: SipMessage) -> Iterable[tuple[str, str]]:
    if message.uri:
        yield "Request-URI", message.uri
    for name, value in message.headers:
        yield "-".join(part.capitalize() for part in name.split("-")), value


def identities_in(text: str, identity: SubscriberIdentity) -> list[str]:
    """Which identity kinds a header value reveals (declared values, any separators; or by form)."""
    found = []
    runs = {_digits(run) for run in _DIGITS_SEPARATED.findall(text)} | set(re.findall(r"\d{7,}", text))
    for kind, value in identity.values().items():
        wanted = _digits(value)
        if len(wanted) >= 7 and any(wanted in run for run in runs):
            found.append(kind)
    if "IMEI" not in found and _IMEI_URN.search(text):
        found.append("IMEI")
    if "IMSI" not in found and _IMSI_DERIVED.search(text):
        found.append("IMSI")
    return found


@dataclass(frozen=True)
class _Search:
    findings: tuple[IdentityFinding, ...]
    device_messages: int  # SIP messages from the device that were readable (plaintext)
    headers_checked: int


def _search(messages: Iterable[SipMessage], device_address: str, identity: SubscriberIdentity) -> _Search:
    """Every plaintext SIP message the device sent, searched for its subscriber identities."""
    findings: list[IdentityFinding] = []
    device_messages = headers_checked = 0
    seen: set[tuple[str, str, str]] = set()
    for message in messages:
        if message.source[0] != device_address:
            continue
        device_messages += 1
        route = f"{message.protocol} {message.source[0]}:{message.source[1]} -> " + (
            f"{message.destination[0]}:{message.destination[1]}"
        )
        start = message.start_line if message.is_request else f"{message.status} {message.cseq_method or ''}"
        for header, value in _fields(message):
            headers_checked += 1
            for kind in identities_in(value, identity):
                key = (kind, header, start)
                if key not in seen:
                    seen.add(key)
                    findings.append(IdentityFinding(kind, header, start, route))
    return _Search(tuple(findings), device_messages, headers_checked)


MAX_FLOWS_NAMED = 3


@dataclass(frozen=True)
class EncryptedSignalling:
    """SIP the device sent that no capture can read: its TLS flows to the registrar's SIP-over-TLS
    port (as `Flow.describe()` lines) and the registrations the registrar accepted over TLS."""

    tls_flows: tuple[str, ...] = ()
    tls_registrations: int = 0

    @property
    def seen(self) -> bool:
        return bool(self.tls_flows) or self.tls_registrations > 0


def judge_identity_exposure(
    messages: Iterable[SipMessage],
    device_address: str,
    identity: SubscriberIdentity,
    encrypted: EncryptedSignalling,
    *,
    tls_unavailable: str = "",
) -> Outcome:
    """FS38-SIP-01: FAIL names each identity found in clear; PASS needs SIP that was actually seen.

    Every plaintext SIP message the device sent is searched for its subscriber identities.
    Plaintext SIP searched for the declared identities passes; so does signalling carried only
    over TLS, since no header of it is readable on the path. No SIP at all decides nothing; why
    the lab offered no SIP over TLS (`tls_unavailable`) is added to an INCONCLUSIVE reason. The
    details carry each identity found (`identity_findings`) and what was searched.
    """
    result = _search(messages, device_address, identity)
    details = {
        "identity_findings": [asdict(f) for f in result.findings],
        "device_messages": result.device_messages,
        "headers_checked": result.headers_checked,
        "encrypted": asdict(encrypted),
    }
    missing_tls = f" ({tls_unavailable})" if tls_unavailable else ""
    if result.findings:
        return Outcome.failed(
            [f.describe() for f in result.findings], summarize_findings(result.findings), details=details
        )
    over_tls = ""
    if encrypted.seen:
        shown = list(encrypted.tls_flows[:MAX_FLOWS_NAMED])
        if len(encrypted.tls_flows) > MAX_FLOWS_NAMED:
            shown.append(f"{len(encrypted.tls_flows) - MAX_FLOWS_NAMED} more")
        flows = ", ".join(shown) or "no TLS flow in the capture"
        over_tls = (
            f"over TLS to the registrar ({flows}; {encrypted.tls_registrations} registration(s) "
            "accepted over TLS), where no header is readable on the path"
        )
    if result.device_messages:
        plain = (
            f"{result.device_messages} plaintext SIP message(s), {result.headers_checked} headers searched"
        )
        if not identity.values():
            return Outcome.inconclusive(
                f"{plain}, but the profile declares no subscriber identity to look for "
                "(profile: cellular.imsi/imei)" + missing_tls,
                ["a declared subscriber identity (profile: cellular.imsi/imei)"],
                details=details,
            )
        kinds = "/".join(sorted(identity.values()))
        return Outcome.passed(
            f"{plain}: no {kinds} found" + (f"; SIP also went {over_tls}" if over_tls else ""),
            details=details,
        )
    if over_tls:
        return Outcome.passed(f"all the device's SIP signalling went {over_tls}", details=details)
    return Outcome.inconclusive(
        "the device sent no SIP the lab could see: no plaintext SIP and no TLS flow to the registrar's "
        "SIP-over-TLS port" + missing_tls,
        ["SIP from the device, in plaintext or over TLS to the registrar"],
        details=details,
    )


# --- FS38-SIP-02: a request sent straight to the device's SIP port -----------------------------


ACCEPTED = "accepted"
REJECTED = "rejected"
NO_LISTENER = "no-listener"
UNDETERMINED = "undetermined"


def judge_direct_request(outcome: DirectRequestOutcome) -> Outcome:
    """FS38-SIP-02: FAIL when the device accepted a request sent around the registrar; PASS when it
    rejected it or nothing listens; INCONCLUSIVE when it cannot be told. The details name the
    `decision` (accepted, rejected, no-listener, undetermined)."""
    decision, explanation = _direct_request_decision(outcome)
    details = {"decision": decision}
    if decision == ACCEPTED:
        return Outcome.failed([explanation], details=details)
    if decision == UNDETERMINED:
        return Outcome.inconclusive(explanation, [f"a final response to {outcome.method}"], details=details)
    return Outcome.passed(explanation, details=details)


def _direct_request_decision(outcome: DirectRequestOutcome) -> tuple[str, str]:
    """(decision, explanation). 2xx, or 180/183 for an INVITE (a call being set up), is accepted."""
    what = f"{outcome.method} over {outcome.transport} to {outcome.target}"
    accepted = [
        s for s in outcome.statuses if 200 <= s < 300 or (outcome.method == "INVITE" and s in (180, 183))
    ]
    if accepted:
        codes = ", ".join(str(s) for s in outcome.statuses)
        return (
            ACCEPTED,
            f"{what} sent straight to the device, with no registrar and no credentials, was answered {codes}",
        )
    final = [s for s in outcome.statuses if s >= 300]
    if final:
        return REJECTED, f"{what} was rejected with {final[0]}"
    if outcome.connection in ("refused", "closed") and not outcome.statuses:
        return (
            NO_LISTENER,
            f"{what}: no SIP listener ({outcome.connection}{': ' + outcome.detail if outcome.detail else ''})",
        )
    if outcome.statuses:
        codes = ", ".join(str(s) for s in outcome.statuses)
        return UNDETERMINED, f"{what}: only provisional answers ({codes}) and no final response"
    return (
        UNDETERMINED,
        f"{what}: no answer ({outcome.detail or 'silent'}); dropped or lost cannot be told apart",
    )
