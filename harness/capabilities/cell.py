"""TestCell: the radio test cell the device attaches to (a software-defined cell, a callbox)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from harness.cell.model import (
    Attachment,
    CellEvent,
    CellSecurity,
    MtSms,
    NetworkIdentity,
    SmsDelivery,
    Subscriber,
)


class TestCell(Protocol):
    __test__ = False  # not a pytest test class, whatever its name
    NAME = "radio test cell"
    CONFIG = "lab config: cell (backend: osmocom, amarisoft or callbox)"

    description: str
    radio: str  # what produced the cellular verdicts: "virtual radio ...", "SDR ...", "callbox ..."

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def network(self) -> NetworkIdentity: ...

    @property
    def security(self) -> CellSecurity: ...

    def configure(
        self, *, network: NetworkIdentity | None = None, security: CellSecurity | None = None
    ) -> None:
        """Change what the cell is (a new location area, a false base station) and wait until it is up."""
        ...

    def add_subscriber(self, subscriber: Subscriber) -> None: ...

    def wait_attached(self, imsi: str, timeout: float) -> Attachment:
        """Until the network has the subscriber attached in this cell's location area."""
        ...

    def send_sms(self, imsi: str, sms: MtSms, timeout: float) -> SmsDelivery:
        """Deliver one mobile-terminated SMS and say how it ended."""
        ...

    def events(self, since: float | None = None) -> list[CellEvent]:
        """What the network saw (location updates, identity responses, cipher mode, SMS reports)."""
        ...

    def await_events(self, timeout: float) -> None:
        """Return once `events()` holds what the cell saw up to this call, after at most `timeout` s.

        Events may come from a thread that decodes the radio or from a remote log, a moment after
        the network acted. A cell that cannot tell when it has caught up waits the whole `timeout`.
        """
        time.sleep(timeout)

    def identity(self) -> dict[str, str]:
        """What the report says about the cell: backend, radio, network."""
        ...

    def evidence(self, folder: Path) -> list[Path]:
        """Copy the cell's logs and its radio-side capture into `folder`; the files written."""
        ...
