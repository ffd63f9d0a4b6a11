"""The console lockdown check, both ways."""

from __future__ import annotations

from harness.checks.console_lockdown import (
    NOT_POSSIBLE,
    REFUSED,
    SHELL,
    UNJUDGED,
    ConsoleAttempt,
    judge_console_attempts,
)
from harness.results.verdicts import Verdict


def _attempt(name: str, result: str) -> ConsoleAttempt:
    return ConsoleAttempt(name, "login prompt", result, "detail", f"{name}.log")


def test_any_shell_fails_naming_the_input_and_its_transcript() -> None:
    outcome = judge_console_attempts([_attempt("Ctrl-C", REFUSED), _attempt("factory", SHELL)])
    assert outcome.verdict is Verdict.FAIL and "factory" in outcome.reason and "factory.log" in outcome.reason


def test_every_input_refused_passes_and_says_what_could_not_be_tried() -> None:
    outcome = judge_console_attempts([_attempt("Ctrl-C", REFUSED), _attempt("BREAK", NOT_POSSIBLE)])
    assert outcome.verdict is Verdict.PASS and "not possible on this console: BREAK" in outcome.reason


def test_an_unjudged_attempt_is_inconclusive_and_nothing_tried_is_not_a_pass() -> None:
    assert (
        judge_console_attempts([_attempt("Esc", REFUSED), _attempt("x", UNJUDGED)]).verdict
        is Verdict.INCONCLUSIVE
    )
    assert judge_console_attempts([_attempt("BREAK", NOT_POSSIBLE)]).verdict is Verdict.INCONCLUSIVE
