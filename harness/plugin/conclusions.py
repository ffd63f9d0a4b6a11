"""How a suite ends a test with a verdict pytest has no word for, and how it concludes a check.

Passing is PASS and a failed assertion is FAIL, the pytest way. `inconclusive()` and
`not_applicable()` raise the two outcomes pytest lacks; `conclude(outcome)` turns a check's
Outcome into whichever of the four it is. A reason may quote the device; pytest prints it on the
terminal, so its control characters are shown as escapes (harness.util.text.visible).
"""

from __future__ import annotations

import pytest

from harness.results.outcome import Outcome
from harness.results.verdicts import Verdict
from harness.util.text import visible


class Inconclusive(Exception):
    """The test could not reach a verdict (device lost, timeout, missing evidence)."""


class NotApplicable(pytest.skip.Exception):
    """The profile says the device lacks the feature under test; carries the reason."""


def inconclusive(reason: str) -> None:
    """End the current test as INCONCLUSIVE with a reason."""
    raise Inconclusive(visible(reason))


def not_applicable(reason: str) -> None:
    """End the current test as NOT_APPLICABLE with a reason taken from the profile."""
    raise NotApplicable(visible(reason), _use_item_location=True)


def conclude(outcome: Outcome) -> None:
    """End the test as the check decided: FAIL (assertion), INCONCLUSIVE, NOT_APPLICABLE, or PASS."""
    if outcome.verdict is Verdict.FAIL:
        raise AssertionError(visible(outcome.reason or "; ".join(outcome.findings) or "the check failed"))
    if outcome.verdict is Verdict.INCONCLUSIVE:
        inconclusive(outcome.reason)
    if outcome.verdict is Verdict.NOT_APPLICABLE:
        not_applicable(outcome.reason)
