"""harness.util.processes: stop_process, the one terminate-wait-kill, and its kill-at-once form;
run_shell stopping its command when its wait is interrupted."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.util.processes import run_shell, stop_process


def _shell(script: str, ready: Path, **options: object) -> subprocess.Popen:
    """`script` started; returned once it has touched `ready` (its trap is set by then)."""
    process = subprocess.Popen(["/bin/sh", "-c", script], **options)  # type: ignore[call-overload]
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists(), "the shell did not start"
    return process


def test_sigterm_first_then_sigkill_for_a_process_that_ignores_it(tmp_path: Path) -> None:
    marker = tmp_path / "terminated"
    ready = tmp_path / "ready"
    polite = _shell(f"trap 'touch {marker}; exit 3' TERM; touch {ready}; while :; do sleep 0.05; done", ready)
    assert stop_process(polite, 2.0) == 3 and marker.exists()
    ready.unlink()
    stubborn = _shell(f"trap '' TERM; touch {ready}; while :; do sleep 0.05; done", ready)
    assert stop_process(stubborn, 1.0) == -signal.SIGKILL


def test_without_graceful_it_kills_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "terminated"
    ready = tmp_path / "ready"
    process = _shell(
        f"trap 'touch {marker}; exit 3' TERM; touch {ready}; while :; do sleep 0.05; done", ready
    )
    assert stop_process(process, 2.0, graceful=False) == -signal.SIGKILL and not marker.exists()


def test_group_reaches_the_children_and_an_ended_process_is_left_alone(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    leader = _shell(
        f"sleep 30 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait",
        pid_file,
        start_new_session=True,
    )
    child = int(pid_file.read_text())
    assert stop_process(leader, 2.0, group=True) is not None
    time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert stop_process(leader, 2.0) == leader.returncode


class _Interrupted(Exception):
    pass


def test_an_interrupted_run_shell_stops_its_command(tmp_path: Path) -> None:
    """Its command runs in a session of its own: a Ctrl-C for the run would not reach it."""
    pid_file = tmp_path / "pid"

    def interrupt(signum: int, frame: object) -> None:
        if pid_file.exists():
            raise _Interrupted
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # not started yet: look again shortly

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        with pytest.raises(_Interrupted):
            run_shell(f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep 30", 30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pid = int(pid_file.read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"  # stopped, not left running
