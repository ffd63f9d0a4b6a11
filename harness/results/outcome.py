"""One outcome type for every check: evidence in, an `Outcome` out.

A check is a pure function: it reads evidence (captures, transcripts, listings, declared profile
data) and returns an Outcome. The suite turns it into the test's verdict with one helper,
`harness.plugin.conclusions.conclude(outcome)`. Measurements carry their limits, in the spirit of
OpenHTF's measurements, so a report states the limit as well as the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.results.verdicts import Verdict


@dataclass(frozen=True)
class Measurement:
    """A measured value and the limits it is judged against (None: no limit that side)."""

    name: str
    value: float | int | str | None
    unit: str = ""
    low: float | None = None
    high: float | None = None

    @property
    def within_limits(self) -> bool | None:
        """True/False for a number judged against its limits; None when nothing was measured."""
        if not isinstance(self.value, int | float):
            return None
        if self.low is not None and self.value < self.low:
            return False
        return not (self.high is not None and self.value > self.high)

    def __str__(self) -> str:
        limits = ""
        if self.low is not None or self.high is not None:
            low = "" if self.low is None else f"{self.low:g} <= "
            high = "" if self.high is None else f" <= {self.high:g}"
            limits = f" (limit {low}{self.name}{high})"
        return f"{self.name} = {self.value}{(' ' + self.unit) if self.unit else ''}{limits}"


@dataclass(frozen=True)
class Outcome:
    """What a check decided and why."""

    verdict: Verdict
    reason: str
    findings: tuple[str, ...] = ()  # what is wrong, one sentence each, naming it (FAIL)
    missing: tuple[str, ...] = ()  # evidence that was missing or could not be read (INCONCLUSIVE)
    measurements: tuple[Measurement, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # extra facts for the evidence file

    @classmethod
    def passed(cls, reason: str, **kwargs: Any) -> Outcome:
        return cls(Verdict.PASS, reason, **kwargs)

    @classmethod
    def failed(cls, findings: Iterable[str], reason: str = "", **kwargs: Any) -> Outcome:
        found = tuple(findings)
        return cls(Verdict.FAIL, reason or "; ".join(found), findings=found, **kwargs)

    @classmethod
    def inconclusive(cls, reason: str, missing: Iterable[str] = (), **kwargs: Any) -> Outcome:
        return cls(Verdict.INCONCLUSIVE, reason, missing=tuple(missing), **kwargs)

    @classmethod
    def not_applicable(cls, reason: str, **kwargs: Any) -> Outcome:
        return cls(Verdict.NOT_APPLICABLE, reason, **kwargs)

    @classmethod
    def from_findings(
        cls,
        findings: Iterable[str],
        *,
        missing: Iterable[str] = (),
        passed: str,
        judged: bool = True,
        nothing_judged: str = "nothing was observed to judge",
        **kwargs: Any,
    ) -> Outcome:
        """The usual decision: FAIL on any finding, else INCONCLUSIVE on missing evidence (or
        when nothing could be judged), else PASS with `passed` as the reason."""
        found, absent = tuple(findings), tuple(missing)
        if found:
            return cls.failed(found, missing=absent, **kwargs)
        if absent:
            return cls.inconclusive("; ".join(absent), absent, **kwargs)
        if not judged:
            return cls.inconclusive(nothing_judged, **kwargs)
        return cls.passed(passed, **kwargs)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["measurements"] = [asdict(m) | {"within_limits": m.within_limits} for m in self.measurements]
        data["details"] = dict(self.details)
        return data
