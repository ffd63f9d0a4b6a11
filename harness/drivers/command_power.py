"""Power by the lab's own shell commands: a PDU over SSH or SNMP, `uhubctl`, a relay, `sispmctl`.

The lab config's `power: {on, off, cycle}` are run with /bin/sh, each bounded by `timeout_s`;
a command that fails or overruns is a HarnessSetupError naming it and its output, so a test that
needed the power cycle ends INCONCLUSIVE saying why.
"""

from __future__ import annotations

import time

from harness.capabilities import Power
from harness.device.registry import BuildContext, provides
from harness.util.processes import check_lab_command, run_shell


class CommandPower(Power):
    def __init__(self, settings) -> None:
        self.settings = settings
        self.description = f"power by command (on: {settings.on!r})"
        self.history: list[tuple[float, str, int | None]] = []  # (time, command, status)
        self._on: bool | None = None
        self._off_at: float | None = None

    def _run(self, what: str, command: str) -> None:
        outcome = run_shell(command, float(self.settings.timeout_s))
        self.history.append((time.time(), what, outcome.status))
        check_lab_command(f"power {what} command", outcome, self.settings.timeout_s)

    def on(self) -> None:
        if self._off_at is not None:  # stay off long enough for the board to really lose power
            time.sleep(max(0.0, self._off_at + float(self.settings.off_seconds) - time.monotonic()))
        self._run("on", self.settings.on)
        self._on, self._off_at = True, None

    def off(self) -> None:
        self._run("off", self.settings.off)
        self._on, self._off_at = False, time.monotonic()

    def cycle(self) -> None:
        if self.settings.cycle:
            self._run("cycle", self.settings.cycle)
            self._on = True
            return
        self.off()
        self.on()

    def is_on(self) -> bool | None:
        return None  # a command can switch, not tell; the console shows whether the board runs


@provides(Power, order=50)
def _command_power(ctx: BuildContext) -> CommandPower | None:
    settings = ctx.lab.power
    if settings is None or ctx.profile.console.qemu is not None:
        return None
    return CommandPower(settings)
