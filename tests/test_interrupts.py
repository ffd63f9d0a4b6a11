"""harness.plugin.interrupts: SIGTERM as Ctrl-C, and signals held while devices are given back.

Signals are raised in this process (signal.raise_signal runs the handler before it returns), with
a recording handler standing in for the run's own, and put back after each test.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from harness.plugin.interrupts import signals_held, sigterm_as_interrupt


@pytest.fixture
def received() -> Iterator[list[int]]:
    """SIGINT and SIGTERM recorded instead of acted on; the previous handlers restored after."""
    got: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, lambda signum, frame: got.append(signum))
    yield got
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def test_a_signal_inside_the_block_is_acted_on_when_it_ends(
    received: list[int], capsys: pytest.CaptureFixture
) -> None:
    own = signal.getsignal(signal.SIGTERM)
    with signals_held("the place is released"):
        signal.raise_signal(signal.SIGTERM)
        assert received == []  # held
    assert received == [signal.SIGTERM]  # by the handler it had before the block
    assert signal.getsignal(signal.SIGTERM) is own
    assert "SIGTERM held until the place is released is done" in capsys.readouterr().err


def test_a_second_signal_acts_at_once(received: list[int]) -> None:
    with signals_held("the place is released"):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)  # someone insists
        assert received == [signal.SIGTERM]
    assert received == [signal.SIGTERM]  # the held one is not acted on twice after an insisting one


def test_a_block_without_signals_changes_nothing(received: list[int]) -> None:
    own = signal.getsignal(signal.SIGINT)
    with signals_held("nothing"):
        pass
    assert received == [] and signal.getsignal(signal.SIGINT) is own


def test_sigterm_becomes_a_keyboard_interrupt_once_and_is_undone() -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        restore = sigterm_as_interrupt()
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # a second one is not negotiable
        restore()
    finally:
        signal.signal(signal.SIGTERM, previous)
