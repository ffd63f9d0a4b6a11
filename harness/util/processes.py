"""Starting and stopping lab-side processes, every wait bounded.

`stop_process` is the one terminate-wait-kill the harness uses; `run_shell` runs a lab's own
command (a PDU switch, a relay) with a timeout that kills its whole process group, so a hung
`ssh pdu ...` cannot hang the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

STOP_TIMEOUT_S = 5.0
OUTPUT_LIMIT = 64 * 1024  # what a lab command may print that the harness keeps
OUTPUT_IN_ERROR = 500  # the end of a failed lab command's output, quoted in its error


def stop_process(
    process: subprocess.Popen,
    timeout: float = STOP_TIMEOUT_S,
    *,
    group: bool = False,
    graceful: bool = True,
) -> int | None:
    """SIGTERM, wait, SIGKILL, wait (without `graceful`: SIGKILL, wait); `group` signals the
    process group (started with a session of its own). Returns the exit status, or None if even
    SIGKILL did not end it in time."""
    for sig in (signal.SIGTERM, signal.SIGKILL) if graceful else (signal.SIGKILL,):
        if process.poll() is not None:
            return process.returncode
        try:
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    return process.poll()


@dataclass(frozen=True)
class CommandOutcome:
    command: str
    status: int | None  # None: killed after the timeout
    output: str

    @property
    def ok(self) -> bool:
        return self.status == 0


def run_shell(command: str, timeout: float, env: Mapping[str, str] | None = None) -> CommandOutcome:
    """Run `command` with /bin/sh (in `env`, else this process's environment); its output
    (clipped) and status; killed with its children after `timeout` seconds (status None).

    Only the shell is waited for: a command that starts something in the background (a power-on
    that launches a process) returns when its shell does. Output goes through a file, not a pipe,
    so a background child that keeps it open cannot stall the wait. The command runs in a session
    of its own (a Ctrl-C meant for the run does not reach it), so when the wait is interrupted
    (KeyboardInterrupt, SIGTERM) it is stopped here, not left running on its own.
    """
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
        try:
            status: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(process, group=True)
            status = None
        except BaseException:
            stop_process(process, group=True)
            raise
        output.seek(0)
        text = output.read(OUTPUT_LIMIT).decode(errors="replace")
    return CommandOutcome(command, status, text)


def run_lab_command(label: str, command: str, timeout_s: float) -> CommandOutcome:
    """A lab config's command (power, link, boot media), run and checked (check_lab_command)."""
    return check_lab_command(label, run_shell(command, float(timeout_s)), timeout_s)


def check_lab_command(label: str, outcome: CommandOutcome, timeout_s: float) -> CommandOutcome:
    """`outcome`, or HarnessSetupError naming `label` when the command did not finish in
    `timeout_s` or exited non-zero (with the end of its output)."""
    from harness.errors import HarnessSetupError

    if outcome.status is None:
        raise HarnessSetupError(f"{label} {outcome.command!r} did not finish within {timeout_s:g} s")
    if outcome.status != 0:
        raise HarnessSetupError(
            f"{label} {outcome.command!r} failed with status {outcome.status}: "
            f"{outcome.output.strip()[-OUTPUT_IN_ERROR:]}"
        )
    return outcome
