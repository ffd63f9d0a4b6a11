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
from dataclasses import asdict, dataclass, field

from harness.observations.syslog import SyslogRecord
from harness.results.outcome import Outcome

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
class EventExport:
    """What reached the lab's receiver for one caused event."""

    event: str
    records: list[str] = field(default_factory=list)  # summaries of the records naming it
    transports: list[str] = field(default_factory=list)
    timestamped: bool = False


def judge_log_export(
    events: Sequence[SecurityEvent],
    records: Iterable[SyslogRecord],
    *,
    not_applicable: dict[str, str] | None = None,
    wait_s: float | None = None,
) -> Outcome:
    """FAIL naming each event not exported or not timestamped, and every plaintext export; PASS
    otherwise. The details carry what reached the receiver per event (`events`), the events that
    could not be caused (`not_applicable`), the record counts and the events `exported_securely`."""
    received = list(records)
    within = f" within {wait_s:.0f} s" if wait_s is not None else ""
    findings: list[str] = []
    exports: list[EventExport] = []
    for event in events:
        matching = [r for r in received if event.matches(r)]
        export = EventExport(
            event=event.name,
            records=[r.summary() for r in matching],
            transports=sorted({r.transport for r in matching}),
            timestamped=any(r.timestamp for r in matching),
        )
        exports.append(export)
        if not matching:
            names = ", ".join(repr(w) for w in event.identifiers) or "it"
            findings.append(
                f"{event.name} was not exported: no record naming {names} reached the lab's syslog receiver{within}"
            )
        elif not export.timestamped:
            findings.append(f"{event.name} was exported without a timestamp: {matching[0].summary()}")
    findings.extend(_plaintext_findings(received))
    secure = [e.event for e in exports if e.records and set(e.transports) == {"tls"}]
    details = {
        "outcomes": [asdict(e) for e in exports],
        "not_applicable": [f"{name}: {why}" for name, why in (not_applicable or {}).items()],
        "plaintext_records": sum(1 for r in received if not r.encrypted),
        "encrypted_records": sum(1 for r in received if r.encrypted),
        "exported_securely": secure,
    }
    if findings:
        return Outcome.failed(findings, details=details)
    return Outcome.passed(
        "every security event caused was exported with a timestamp, over an encrypted transport: "
        + (", ".join(secure) or "none"),
        details=details,
    )


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
