"""FS38-SIP-01 / FS38-SIP-02 decisions: subscriber identity in SIP headers, and what a device's SIP
user agent did with a request sent straight to it around the registrar.

Pure logic over parsed messages and probe outcomes, so both directions are unit-tested without
a device.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.sip.message import SipMessage

# Headers where a UA puts who it is; any other header is searched too (named as found).
IDENTITY_HEADERS = (
    "request-uri",
    "from",
    "to",
    "contact",
    "authorization",
    "proxy-authorization",
    "p-asserted-identity",
    "p-preferred-identity",
    "user-agent",
    "call-id",
)
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


def mask(value: str) -> str:
    """Keep the first 5 digits (MCC+MNC for an IMSI, part of the TAC for an IMEI) and the last 2."""
    return value[:5] + "*" * max(len(value) - 7, 0) + value[-2:] if len(value) > 7 else "*" * len(value)


@dataclass(frozen=True)
class IdentityFinding:
    kind: str  # "IMSI" | "IMEI" | "MSISDN"
    header: str
    message: str  # the start line of the message it was in
    route: str  # "udp 10.0.2.15:5060 -> 10.0.2.2:40000"

    def describe(self) -> str:
        return f"{self.kind} in plaintext SIP header {self.header} of '{self.message}' ({self.route})"


@dataclass
class SipExposureAssessment:
    findings: list[IdentityFinding] = field(default_factory=list)
    device_messages: int = 0  # SIP messages from the device that were readable (plaintext)
    headers_checked: int = 0


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


def assess_sip_exposure(
    messages: Iterable[SipMessage], device_address: str, identity: SubscriberIdentity
) -> SipExposureAssessment:
    """Every plaintext SIP message the device sent, searched for its subscriber identities."""
    result = SipExposureAssessment()
    seen: set[tuple[str, str, str]] = set()
    for message in messages:
        if message.source[0] != device_address:
            continue
        result.device_messages += 1
        route = f"{message.protocol} {message.source[0]}:{message.source[1]} -> " + (
            f"{message.destination[0]}:{message.destination[1]}"
        )
        start = message.start_line if message.is_request else f"{message.status} {message.cseq_method or ''}"
        for header, value in _fields(message):
            result.headers_checked += 1
            for kind in identities_in(value, identity):
                key = (kind, header, start)
                if key not in seen:
                    seen.add(key)
                    result.findings.append(IdentityFinding(kind, header, start, route))
    return result


# --- FS38-SIP-02: a request sent straight to the device's SIP port -----------------------------


@dataclass
class DirectRequestOutcome:
    """What the device answered to one request the lab sent to it directly."""

    method: str
    transport: str
    target: str
    statuses: list[int] = field(default_factory=list)
    connection: str = "answered"  # "answered" | "refused" | "closed" | "silent"
    detail: str = ""


ACCEPTED = "accepted"
REJECTED = "rejected"
NO_LISTENER = "no-listener"
UNDETERMINED = "undetermined"


def assess_direct_request(outcome: DirectRequestOutcome) -> tuple[str, str]:
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
