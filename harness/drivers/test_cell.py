"""The lab's radio test cell (lab config `cell`): Osmocom, an Amarisoft Callbox or a SCPI callbox.

The cell starts with the device. A cell that cannot start (a program missing, a callbox not
reachable) does not stop the run: every test that needs it ends INCONCLUSIVE with the reason,
while the rest of the suites still run. Backends are imported only when chosen, so a missing
optional library of one backend never breaks the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.capabilities import TestCell
from harness.cell.model import (
    Attachment,
    CellEvent,
    CellSecurity,
    MtSms,
    NetworkIdentity,
    SmsDelivery,
    Subscriber,
)
from harness.device.registry import BuildContext, provides
from harness.errors import HarnessSetupError


class CellUnavailable(HarnessSetupError):
    """The lab has a cell, but it is not usable: the test is INCONCLUSIVE with this reason."""


class LabCell(TestCell):
    """The configured backend, started with the device; its failure is kept as a reason."""

    def __init__(self, make: Callable[[], TestCell], settings, sim: Subscriber | None = None) -> None:
        self.make = make
        self.backend: TestCell | None = None
        self.settings = settings
        self.sim = sim
        self.failure: str | None = None
        self.description, self.radio = describe(settings)

    def start(self) -> None:
        started = time.monotonic()
        try:
            self.backend = self.make()  # a backend's optional library is imported here, not at build time
            self.description, self.radio = self.backend.description, self.backend.radio
            self.backend.start()
            if self.sim is not None:  # the lab provisions the device's test SIM before it boots
                self.backend.add_subscriber(self.sim)
        except (HarnessSetupError, OSError, ImportError) as err:
            self.failure = f"the lab's test cell ({self.description}) did not start: {err}"
        self.start_seconds = time.monotonic() - started

    def stop(self) -> None:
        if self.backend is None:
            return
        try:
            self.backend.stop()
        except HarnessSetupError:
            pass

    def ready(self) -> TestCell:
        """The backend; CellUnavailable (INCONCLUSIVE, with the reason) when it did not start."""
        if self.failure or self.backend is None:
            raise CellUnavailable(self.failure or f"the lab's test cell ({self.description}) is not started")
        return self.backend

    @property
    def network(self) -> NetworkIdentity:
        return self.ready().network

    @property
    def security(self) -> CellSecurity:
        return self.ready().security

    @property
    def virtual_um(self):
        """The virtual radio an emulated module's mobile station joins (None for a real radio)."""
        return None if self.failure or self.backend is None else getattr(self.backend, "virtual_um", None)

    def configure(
        self, *, network: NetworkIdentity | None = None, security: CellSecurity | None = None
    ) -> None:
        self.ready().configure(network=network, security=security)

    def add_subscriber(self, subscriber: Subscriber) -> None:
        self.ready().add_subscriber(subscriber)

    def wait_attached(self, imsi: str, timeout: float) -> Attachment:
        return self.ready().wait_attached(imsi, timeout)

    def send_sms(self, imsi: str, sms: MtSms, timeout: float) -> SmsDelivery:
        return self.ready().send_sms(imsi, sms, timeout)

    def events(self, since: float | None = None) -> list[CellEvent]:
        return [] if self.failure or self.backend is None else self.backend.events(since)

    def await_events(self, timeout: float) -> None:
        if self.failure or self.backend is None:
            return
        self.backend.await_events(timeout)

    def identity(self) -> dict[str, str]:
        if self.failure or self.backend is None:
            return {
                "cell": self.description,
                "cell_radio": self.radio,
                "cell_failure": self.failure or "not started",
            }
        return self.backend.identity()

    def evidence(self, folder: Path) -> list[Path]:
        return [] if self.failure or self.backend is None else self.backend.evidence(folder)


def describe(settings) -> tuple[str, str]:
    """(description, radio) of the configured cell, before any backend module is imported."""
    if settings.backend == "osmocom":
        bts = "osmo-bts-virtual" if settings.radio == "virtual" else "osmo-bts-trx + osmo-trx"
        radio = "virtual radio (osmo-bts-virtual, GSMTAP over multicast; no RF)" if settings.radio == "virtual" \
            else "SDR (osmo-bts-trx with osmo-trx)"  # fmt: skip
        return f"Osmocom GSM network ({bts})", radio
    if settings.backend == "amarisoft":
        return (
            f"Amarisoft Callbox (remote API {settings.amarisoft.url})",
            "callbox (Amarisoft, LTE/NR over RF)",
        )
    return f"SCPI callbox at {settings.callbox.address}", f"callbox ({settings.callbox.vendor}, GSM over RF)"


def _network(settings) -> NetworkIdentity:
    net = settings.network
    return NetworkIdentity(
        mcc=net.mcc, mnc=net.mnc, lac=net.lac, cell_id=net.cell_id, arfcn=net.arfcn, band=net.band
    )


def make_backend(settings, workdir: Path, cache_dir: Path) -> TestCell:
    if settings.backend == "osmocom":
        from harness.cell.osmocom.cell import OsmocomCell

        sdr = settings.sdr
        return OsmocomCell(
            workdir, cache_dir, network=_network(settings), bts="trx" if settings.radio == "sdr" else "virtual",
            trx_address=sdr.trx_address if sdr else "127.0.0.1", trx_command=sdr.trx_command if sdr else None,
        )  # fmt: skip
    if settings.backend == "amarisoft":
        from harness.cell.amarisoft import AmarisoftCell

        return AmarisoftCell(settings.amarisoft, network=_network(settings))
    from harness.cell.callbox import ScpiCallbox

    return ScpiCallbox(settings.callbox, network=_network(settings))


@provides(TestCell)
def _test_cell(ctx: BuildContext) -> TestCell | None:
    settings = ctx.lab.cell
    if settings is None or settings.backend == "none":
        return None
    cellular = ctx.profile.cellular
    sim = None
    if cellular is not None and cellular.imsi and cellular.ki:
        sim = Subscriber(cellular.imsi, cellular.ki, (cellular.msisdn or "").lstrip("+"))
    return LabCell(
        lambda: make_backend(settings, ctx.workdir / "cell", Path(ctx.lab.image_cache)), settings, sim
    )
