"""harness.util.deadlines: wait_until looks at once, between pauses and at the deadline; a
Deadline counts down to 0, never below."""

from __future__ import annotations

import time

import pytest

from harness.util.deadlines import Deadline, wait_until


def test_returns_the_first_true_value_without_waiting_further() -> None:
    answers = iter([0, "", "ready", "later"])
    assert wait_until(lambda: next(answers), 5.0, 0.01) == "ready"


def test_a_condition_never_met_is_looked_at_once_more_at_the_deadline_and_returns_false() -> None:
    looks: list[float] = []

    def never() -> bool:
        looks.append(time.monotonic())
        return False

    start = time.monotonic()
    assert wait_until(never, 0.3, 0.1) is False
    assert looks[-1] - start >= 0.3 and len(looks) >= 2  # the last look is at (or after) the deadline


def test_no_timeout_looks_once_and_an_exception_ends_the_wait() -> None:
    looks: list[int] = []
    assert wait_until(lambda: looks.append(1), 0.0, 1.0) is None and looks == [1]

    def died() -> bool:
        raise RuntimeError("the awaited process exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(died, 5.0, 0.01)


def test_a_deadline_counts_down_to_zero_and_never_below() -> None:
    deadline = Deadline.after(0.2)
    assert 0.0 < deadline.remaining() <= 0.2 and not deadline.expired
    time.sleep(0.25)
    assert deadline.remaining() == 0.0 and deadline.expired
    assert Deadline.after(-5).remaining() == 0.0  # a negative timeout is an expired deadline


def test_the_earlier_of_two_deadlines_is_their_minimum() -> None:
    budget, window = Deadline.after(10.0), Deadline.after(0.1)
    assert min(budget, window) is window and min(window, budget) is window
    assert min(Deadline.after(0.0), budget).expired
