"""FS38-07: do the device's security events leave it, identifiably, timestamped and securely?

The test causes security events (failed logins, a rejected update) and hands this module what it
caused and every record the lab's syslog receiver got. An event is exported when a record received
after it names it (its identifiers plus a word of failure); the export is secure only when every
record came over an encrypted transport. A record that arrived in the clear is a finding even if it
is not one of the events: the device's log travels the network readable by anyone on the path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.observations.syslog import SyslogRecord

# Words by which a log line says "this was refused": busybox login ("invalid password"), dropbear
# ("Bad password attempt"), PAM ("authentication failure"), update agents ("Signature ... failed").
FAILURE_WORDS = r"password|auth|login incorrect|denied|fail|invalid|reject|refus|bad |signature|verif|error"
CLOCK_SLACK_S = 1.0  # host clock reads before and after an event, records may race the read
EXAMPLES_PER_FINDING = 2


@dataclass(frozen=True)
class SecurityEvent:
    """An event the test caused, and what a log record must contain to be that event's record."""

    name: str  # "failed console login for root"
    induced_at: float  # host time.time() just before the event was caused
    identifiers: tuple[str, ...]  # each must appear in the record (app or message), case-insensitive
    excludes: tuple[str, ...] = ()  # a record naming any of these is another event's (e.g. a network source)
    failure_words: str = FAILURE_WORDS

    def matches(self, record: SyslogRecord) -> bool:
        if record.received < self.induced_at - CLOCK_SLACK_S:
            return False
        text = f"{record.app or ''} {record.message}".lower()
        if any(word.lower() in text for word in self.excludes):
            return False
        if not all(word.lower() in text for word in self.identifiers):
            return False
        return re.search(self.failure_words, text, re.IGNORECASE) is not None


@dataclass
class EventOutcome:
    event: str
    records: list[str] = field(default_factory=list)  # summaries of the records naming it
    transports: list[str] = field(default_factory=list)
    timestamped: bool = False


@dataclass
class LogExportAssessment:
    findings: list[str] = field(default_factory=list)
    outcomes: list[EventOutcome] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)  # "event: why it could not be caused"
    plaintext_records: int = 0
    encrypted_records: int = 0

    @property
    def exported_securely(self) -> list[str]:
        return [o.event for o in self.outcomes if o.records and set(o.transports) == {"tls"}]


def assess_log_export(
    events: Sequence[SecurityEvent],
    records: Iterable[SyslogRecord],
    *,
    not_applicable: dict[str, str] | None = None,
    wait_s: float | None = None,
) -> LogExportAssessment:
    """Findings name each event not exported or not timestamped, and every plaintext export."""
    received = list(records)
    result = LogExportAssessment(
        not_applicable=[f"{name}: {why}" for name, why in (not_applicable or {}).items()],
        plaintext_records=sum(1 for r in received if not r.encrypted),
        encrypted_records=sum(1 for r in received if r.encrypted),
    )
    within = f" within {wait_s:.0f} s" if wait_s is not None else ""
    for event in events:
        matching = [r for r in received if event.matches(r)]
        outcome = EventOutcome(
            event=event.name,
            records=[r.summary() for r in matching],
            transports=sorted({r.transport for r in matching}),
            timestamped=any(r.timestamp for r in matching),
        )
        result.outcomes.append(outcome)
        if not matching:
            names = ", ".join(repr(w) for w in event.identifiers) or "it"
            result.findings.append(
                f"{event.name} was not exported: no record naming {names} reached the lab's syslog receiver{within}"
            )
        elif not outcome.timestamped:
            result.findings.append(f"{event.name} was exported without a timestamp: {matching[0].summary()}")
    result.findings.extend(_plaintext_findings(received))
    return result


def _plaintext_findings(records: Sequence[SyslogRecord]) -> list[str]:
    """One finding per transport and sender that carried log records unencrypted."""
    grouped: dict[tuple[str, str], list[SyslogRecord]] = {}
    for record in records:
        if not record.encrypted:
            grouped.setdefault((record.transport, record.peer.rpartition(":")[0]), []).append(record)
    findings = []
    for (transport, sender), clear in sorted(grouped.items()):
        examples = "; ".join(r.summary() for r in clear[:EXAMPLES_PER_FINDING])
        findings.append(
            f"logs exported in plaintext (not securely): {len(clear)} record(s) over {transport.upper()} "
            f"from {sender}, readable by anyone on the network, e.g. {examples}"
        )
    return findings
