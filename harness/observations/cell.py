"""What a test cell saw while one configuration was up (harness.probes.cell makes it,
harness.checks.gsm judges it)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.cell.model import CellEvent, SmsDelivery


@dataclass(frozen=True)
class CellPhase:
    """One configuration of the cell and what happened while it was up."""

    name: str  # "genuine", "downgrade", "IMSI catcher"
    cell: str  # the network and security, described
    events: tuple[CellEvent, ...]
    attached: bool  # the network had the subscriber attached in this phase's location area
    probe: SmsDelivery | None = None  # a silent SMS sent to the device while the phase was up
    false: bool = True
