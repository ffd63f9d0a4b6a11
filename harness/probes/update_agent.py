"""Driving a device's update agent: hand a package over (an UpdateChannel), read the running
version (a console command and a pattern), and the log lines that name the package.

The reference image's agent is `hilsec-update` (overlay/usr/sbin/hilsec-update): `status` prints
`version=` and `hardware=` lines. Another device's profile names its own commands (`updates:`).
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass
from typing import Any

from harness.errors import DeviceError
from harness.observations.update_delivery import DeliveryOutcome

REFERENCE_AGENT = "hilsec-update"
REFERENCE_VERSION_PATTERN = r"^version=(\S+)"
INSTALL_TIMEOUT_S = 120.0
DEFAULT_LOG_COMMAND = "(cat /var/log/messages; logread) 2>/dev/null"
LOG_LINES_KEPT = 50
AGENT_OUTPUT_KEPT = 16 * 1024


@dataclass(frozen=True)
class AgentStatus:
    """What the agent reports: the running version and the hardware it matches packages against."""

    version: str
    hardware: str
    firmware: str = ""


def parse_status(output: str) -> AgentStatus:
    """`version=...`, `hardware=...` lines; DeviceError if the version or hardware is missing."""
    values = dict(line.strip().split("=", 1) for line in output.splitlines() if "=" in line)
    if not values.get("version") or not values.get("hardware"):
        raise DeviceError(f"the update agent's status gave no version/hardware: {output.strip()[:200]!r}")
    return AgentStatus(values["version"], values["hardware"], values.get("firmware", ""))


class UpdateAgent:
    """The device's update agent as the lab reaches it: a channel that hands packages over, a
    command that reports the running version, a command that prints the device's log."""

    def __init__(
        self,
        device: Any,
        channel: Any,
        *,
        version_command: str = f"{REFERENCE_AGENT} status",
        version_pattern: str = REFERENCE_VERSION_PATTERN,
        log_command: str | None = None,
        install_timeout: float = INSTALL_TIMEOUT_S,
    ) -> None:
        self.device = device
        self.channel = channel
        self.version_command = version_command
        self.version_pattern = re.compile(version_pattern, re.MULTILINE)
        self.log_command = log_command or DEFAULT_LOG_COMMAND
        self.install_timeout = install_timeout

    def status(self) -> AgentStatus:
        """The reference agent's full status (version and hardware, which crafting needs)."""
        result = self.device.run(f"{REFERENCE_AGENT} status")
        if result.status != 0:
            raise DeviceError(
                f"`{REFERENCE_AGENT} status` failed ({result.status}): {result.output.strip()[:200]}"
            )
        return parse_status(result.output)

    def running_version(self) -> str:
        """The version the device reports; DeviceError when the output does not show one."""
        result = self.device.run(self.version_command)
        found = self.version_pattern.search(result.output)
        if found is None or not found.group(1):
            raise DeviceError(
                f"`{self.version_command}` showed no version matching {self.version_pattern.pattern!r}: "
                f"{result.output.strip()[:200]!r}"
            )
        return found.group(1).strip()

    def log_lines(self, needle: str) -> list[str]:
        """Log lines on the device that name `needle` (a package's file name)."""
        command = f"{self.log_command} | grep -F {shlex.quote(needle)}"
        result = self.device.run(command)
        return list(dict.fromkeys(line for line in result.output.splitlines() if needle in line))[
            :LOG_LINES_KEPT
        ]

    def deliver(self, kind: str, filename: str, data: bytes, offered_version: str) -> DeliveryOutcome:
        """Hand the package over and record what changed; a device that stops answering is recorded."""
        outcome = DeliveryOutcome(kind, filename, "", self.running_version(), offered_version)
        started = time.monotonic()
        try:
            handed = self.channel.deliver(filename, data, self.install_timeout)
            outcome.url = handed.url
            outcome.exit_status = 0 if handed.accepted else (handed.status if handed.status else 1)
            outcome.agent_output = handed.output[-AGENT_OUTPUT_KEPT:]
            outcome.seconds = round(time.monotonic() - started, 2)
            outcome.version_after = self.running_version()
            outcome.log_lines = self.log_lines(filename)
        except DeviceError as err:
            outcome.answered = False
            outcome.agent_output += f"\n[harness] device stopped answering: {err}"
        return outcome

    def check_after_reboot(self, outcome: DeliveryOutcome) -> None:
        """Power-cycle the device and record the version it runs when it is back."""
        self.device.power_cycle()
        outcome.rebooted = True
        outcome.version_after_reboot = self.running_version()
