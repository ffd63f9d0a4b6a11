"""What the plugin records of each requirement-marked test, and how a pytest outcome maps to a verdict.

A record travels: from the worker that ran the test to the xdist controller (attached to each
report), so one report directory holds every worker's results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from harness.capabilities import MissingCapability
from harness.errors import DeviceError
from harness.plugin.conclusions import Inconclusive, NotApplicable
from harness.results.verdicts import Verdict

PYTEST_TIMEOUT_PREFIX = (
    "Timeout (>"  # pytest-timeout's failure message: "Timeout (>5.0s) from pytest-timeout."
)
REASON_LIMIT = 500


@dataclass
class TestRecord:
    """What the plugin learns about one requirement-marked test while it runs."""

    nodeid: str
    requirements: list[str]
    crossrefs: list[str]
    kind: str = "functional"
    verdict: Verdict | None = None
    reason: str = ""
    duration_s: float = 0.0
    evidence: list[str] = field(default_factory=list)
    phase: str = ""  # the pytest phase that decided the verdict: setup, call or teardown
    radio: str = ""  # which radio produced a cellular verdict (a test's record_property("radio", ...))
    device: str = ""  # the pool device it ran on ("" for a single-device run)

    @property
    def key(self) -> str:
        """Unique in a run: with a pool every device runs the same node IDs."""
        return f"{self.device}\x00{self.nodeid}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict) if self.verdict is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestRecord:
        values = dict(data)
        values["verdict"] = Verdict(values["verdict"]) if values.get("verdict") else None
        return cls(**values)

    def update(self, verdict: Verdict, reason: str, when: str, duration: float) -> None:
        """Fold one phase's outcome in: setup can end the test, call decides, teardown spoils a PASS."""
        self.duration_s += duration
        if when == "setup":
            if verdict is not Verdict.PASS:
                self.verdict, self.phase = verdict, when
                self.reason = f"setup: {reason}" if verdict is Verdict.INCONCLUSIVE else reason
        elif when == "call":
            self.verdict, self.reason, self.phase = verdict, reason, when
        elif when == "teardown" and verdict is not Verdict.PASS and self.verdict is Verdict.PASS:
            self.verdict, self.reason, self.phase = Verdict.INCONCLUSIVE, f"teardown: {reason}", when


def first_line(text: str, limit: int = REASON_LIMIT) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def verdict_of(excinfo: pytest.ExceptionInfo[BaseException] | None, when: str) -> tuple[Verdict, str]:
    """Map one phase's outcome to a verdict and a one-line reason.

    A failed assertion or `pytest.fail()` in the test itself is FAIL; anything that kept the test
    from deciding (a lost device, a missing capability, a timeout, a fixture that broke, a plain
    skip) is INCONCLUSIVE; `not_applicable()` is NOT_APPLICABLE.
    """
    if excinfo is None:
        return Verdict.PASS, ""
    exc = excinfo.value
    if isinstance(exc, NotApplicable):
        return Verdict.NOT_APPLICABLE, str(exc.msg)
    if isinstance(exc, pytest.skip.Exception):
        return Verdict.INCONCLUSIVE, f"skipped, so not checked: {exc.msg}"
    if isinstance(exc, Inconclusive):
        return Verdict.INCONCLUSIVE, str(exc)
    if isinstance(exc, DeviceError):
        return Verdict.INCONCLUSIVE, f"device: {exc}"
    if isinstance(exc, MissingCapability):
        return Verdict.INCONCLUSIVE, str(exc)
    if isinstance(exc, pytest.fail.Exception):
        message = str(exc.msg or "")
        if message.startswith(PYTEST_TIMEOUT_PREFIX):
            return Verdict.INCONCLUSIVE, f"test timed out: {first_line(message)}"
        if when == "call":
            return Verdict.FAIL, first_line(message) or "failed"
    if isinstance(exc, AssertionError) and when == "call":
        message = str(exc) or "assertion failed"
        return Verdict.FAIL, first_line(message.split("\nassert ")[0])
    if isinstance(exc, pytest.exit.Exception):
        return Verdict.INCONCLUSIVE, f"run stopped: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return Verdict.INCONCLUSIVE, "run interrupted"
    return Verdict.INCONCLUSIVE, f"harness error in {when}: {type(exc).__name__}: {first_line(str(exc))}"
