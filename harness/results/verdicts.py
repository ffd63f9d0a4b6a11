"""Verdicts as DESIGN.md defines them, and how tests roll up into requirement verdicts.

How a test signals a verdict to pytest is harness.plugin.conclusions; this module is plain data.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    NOT_TESTED = "NOT_TESTED"


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
