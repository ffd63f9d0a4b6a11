"""What one update delivery showed, as the update agent probe (harness.probes.update_agent) saw it."""

from __future__ import annotations

from dataclasses import dataclass, field


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
