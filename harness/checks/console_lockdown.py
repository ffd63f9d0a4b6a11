"""FS38-05 / FS38-01: the serial console gives no shell to anyone who has no credentials.

Backdoors and debug builds answer inputs a person can type at a login prompt or while the device
boots: break and control keys, escape sequences, empty or overlong user names, magic user names.
Each input was tried on its own, with its transcript as evidence; the check FAILs naming every
input that yielded a shell, is INCONCLUSIVE when an attempt could not be judged (the console went
away, no prompt came back) and PASSes only when every attempt ended without a shell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.results.outcome import Measurement, Outcome

SHELL = "shell"
REFUSED = "refused"
UNJUDGED = "unjudged"
NOT_POSSIBLE = "not possible"


@dataclass(frozen=True)
class ConsoleAttempt:
    """One input tried on the console and what followed it."""

    name: str
    phase: str  # "login prompt" | "boot"
    result: str  # SHELL | REFUSED | UNJUDGED | NOT_POSSIBLE
    detail: str
    transcript: str = ""

    def __str__(self) -> str:
        where = f" (transcript {self.transcript})" if self.transcript else ""
        return f"{self.name} at the {self.phase}: {self.detail}{where}"


def judge_console_attempts(attempts: Iterable[ConsoleAttempt]) -> Outcome:
    tried = list(attempts)
    shells = [str(a) for a in tried if a.result == SHELL]
    unjudged = [str(a) for a in tried if a.result == UNJUDGED]
    impossible = [a.name for a in tried if a.result == NOT_POSSIBLE]
    judged = [a for a in tried if a.result in (SHELL, REFUSED)]
    note = f"; not possible on this console: {', '.join(impossible)}" if impossible else ""
    return Outcome.from_findings(
        [f"a shell without credentials after {item}" for item in shells],
        missing=[f"could not judge {item}" for item in unjudged],
        passed=f"no shell without credentials after any of {len(judged)} console inputs{note}",
        judged=bool(judged),
        nothing_judged="no console input could be tried",
        measurements=(Measurement("console inputs tried", len(judged)),),
        details={"attempts": [a.__dict__ for a in tried]},
    )
