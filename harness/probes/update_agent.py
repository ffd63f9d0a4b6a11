"""Driving a device's update agent over its console: status, install from a URL, its log lines.

The reference image's agent is `hilsec-update` (overlay/usr/sbin/hilsec-update). Another device
declares its own agent in the profile (`features.software_update`); only agents with this
command interface can be driven here.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from harness.errors import DeviceError

REFERENCE_AGENT = "hilsec-update"
INSTALL_TIMEOUT_S = 120.0
LOG_FILES = ("/var/log/messages",)


@dataclass(frozen=True)
class AgentStatus:
    """What the agent reports: the running version and the hardware it matches packages against."""

    version: str
    hardware: str
    firmware: str = ""


@dataclass
class DeliveryOutcome:
    """Everything one delivery showed: versions before and after, exit status, output and logs."""

    kind: str
    filename: str
    url: str
    version_before: str
    offered_version: str
    version_after: str | None = None
    exit_status: int | None = None
    agent_output: str = ""
    log_lines: list[str] = field(default_factory=list)
    answered: bool = True
    seconds: float = 0.0
    rebooted: bool = False
    version_after_reboot: str | None = None


def parse_status(output: str) -> AgentStatus:
    """`version=...`, `hardware=...` lines; DeviceError if the version or hardware is missing."""
    values = dict(line.strip().split("=", 1) for line in output.splitlines() if "=" in line)
    if not values.get("version") or not values.get("hardware"):
        raise DeviceError(f"the update agent's status gave no version/hardware: {output.strip()[:200]!r}")
    return AgentStatus(values["version"], values["hardware"], values.get("firmware", ""))


class UpdateAgent:
    """The reference agent's command interface on a `Device`."""

    def __init__(self, device: Any, command: str = REFERENCE_AGENT) -> None:
        self.device = device
        self.command = command

    def status(self) -> AgentStatus:
        result = self.device.run(f"{self.command} status")
        if result.status != 0:
            raise DeviceError(
                f"`{self.command} status` failed ({result.status}): {result.output.strip()[:200]}"
            )
        return parse_status(result.output)

    def install(self, url: str) -> tuple[int, str]:
        result = self.device.run(f"{self.command} install {shlex.quote(url)} 2>&1", timeout=INSTALL_TIMEOUT_S)
        return result.status, result.output

    def log_lines(self, needle: str) -> list[str]:
        """Syslog lines on the device that name `needle` (a package's file name)."""
        files = " ".join(LOG_FILES)
        command = f"(cat {files} 2>/dev/null; logread 2>/dev/null) | grep -F {shlex.quote(needle)}"
        result = self.device.run(command)
        return list(dict.fromkeys(line for line in result.output.splitlines() if needle in line))

    def deliver(self, kind: str, filename: str, url: str, offered_version: str) -> DeliveryOutcome:
        """Install from `url` and record what changed; a device that stops answering is recorded."""
        before = self.status()
        outcome = DeliveryOutcome(kind, filename, url, before.version, offered_version)
        started = time.monotonic()
        try:
            outcome.exit_status, outcome.agent_output = self.install(url)
            outcome.seconds = round(time.monotonic() - started, 2)
            outcome.version_after = self.status().version
            outcome.log_lines = self.log_lines(filename)
        except DeviceError as err:
            outcome.answered = False
            outcome.agent_output += f"\n[harness] device stopped answering: {err}"
        return outcome

    def check_after_reboot(self, outcome: DeliveryOutcome) -> None:
        """Power-cycle the device and record the version it runs when it is back."""
        self.device.power_cycle()
        outcome.rebooted = True
        outcome.version_after_reboot = self.status().version
