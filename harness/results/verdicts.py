"""Verdicts as DESIGN.md defines them, and how tests roll up into requirement verdicts.

Tests signal verdicts the pytest way: passing is PASS, a failed assertion is FAIL. The two
outcomes pytest has no word for are raised with `inconclusive()` and `not_applicable()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import pytest


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    NOT_TESTED = "NOT_TESTED"


class Inconclusive(Exception):
    """The test could not reach a verdict (device lost, timeout, missing evidence)."""


class NotApplicable(pytest.skip.Exception):
    """The profile says the device lacks the feature under test; carries the reason."""


def inconclusive(reason: str) -> None:
    """End the current test as INCONCLUSIVE with a reason."""
    raise Inconclusive(reason)


def not_applicable(reason: str) -> None:
    """End the current test as NOT_APPLICABLE with a reason taken from the profile."""
    raise NotApplicable(reason, _use_item_location=True)


def rollup(verdicts: Iterable[Verdict]) -> Verdict:
    """A requirement's verdict from its tests' verdicts.

    FAIL if any test failed, else INCONCLUSIVE if any was inconclusive, else PASS if any passed,
    else NOT_APPLICABLE; with no test at all, NOT_TESTED.
    """
    seen = set(verdicts)
    if not seen:
        return Verdict.NOT_TESTED
    for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS):
        if verdict in seen:
            return verdict
    return Verdict.NOT_APPLICABLE
