"""The lab config's `cell` section: which radio test cell the bench has and how to reach it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.config.base import StrictModel, problem


class CellNetwork(StrictModel):
    """The genuine network the cell plays (the false base station is derived from it)."""

    mcc: str = Field("001", pattern=r"^\d{3}$", description="the mobile country code, 3 digits (001: test)")
    mnc: str = Field("01", pattern=r"^\d{2,3}$", description="the mobile network code, 2 or 3 digits")
    lac: int = Field(1, ge=1, le=65533, description="the location area code (1-65533)")
    cell_id: int = Field(1, ge=0, le=65535, description="the cell identity (0-65535)")
    arfcn: int = Field(871, ge=0, le=1023, description="the radio channel (ARFCN 0-1023; 871 is DCS1800)")
    band: Literal["GSM900", "DCS1800", "GSM850", "PCS1900"] = Field(
        "DCS1800", description="GSM900, DCS1800, GSM850 or PCS1900 (must contain the ARFCN)"
    )


class SdrSettings(StrictModel):
    """Osmocom with an SDR: osmo-bts-trx talks to osmo-trx (README: A radio test cell)."""

    trx_address: str = Field("127.0.0.1", description="where osmo-trx listens (inside the cell's namespace)")
    trx_command: str | None = Field(
        None,
        description="a shell command that starts osmo-trx, e.g. 'osmo-trx-lms -C /etc/osmocom/osmo-trx-lms.cfg'",
    )


class AmarisoftSettings(StrictModel):
    """An Amarisoft Callbox: its remote API (JSON over WebSocket) of the MME and eNB/gNB."""

    url: str = Field(pattern=r"^wss?://\S+$", description="the MME remote API, e.g. ws://192.0.2.10:9000/")
    ims_url: str | None = Field(
        None, pattern=r"^wss?://\S+$", description="the IMS remote API for SMS, e.g. ws://192.0.2.10:9003/"
    )
    password: str | None = Field(None, repr=False, description="the remote API password, if one is set")
    timeout_s: float = Field(
        10.0, gt=0, le=120, description="seconds to connect and to wait for one API answer (up to 120)"
    )


class CallboxSettings(StrictModel):
    """A SCPI-controlled callbox (R&S CMW500 GSM signalling, Keysight UXM)."""

    address: str = Field(
        pattern=r"^(\S+::\S+|[^\s:]+:\d{1,5})$",
        description="a VISA resource (TCPIP::192.0.2.20::hislip0) or HOST:PORT for a raw SCPI socket",
    )
    vendor: Literal["rs-cmw", "keysight-uxm"] = Field("rs-cmw", description="rs-cmw or keysight-uxm")
    timeout_s: float = Field(
        10.0, gt=0, le=120, description="seconds to connect and to wait for one SCPI answer (up to 120)"
    )
    cell_on_timeout_s: float = Field(
        60.0, gt=0, le=600, description="seconds the GSM cell may take to come on (up to 600)"
    )


class CellSettings(StrictModel):
    """The bench's radio test cell."""

    backend: Literal["osmocom", "amarisoft", "callbox", "none"] = Field(
        "osmocom", description="osmocom, amarisoft, callbox or none"
    )
    radio: Literal["virtual", "sdr"] = Field(
        "virtual", description="osmocom: virtual (osmo-bts-virtual, GSMTAP) or sdr (osmo-bts-trx + osmo-trx)"
    )
    network: CellNetwork = Field(default_factory=CellNetwork, description="a mapping: mcc, mnc, lac, arfcn")
    sdr: SdrSettings | None = Field(None, description="a mapping with trx_address and trx_command")
    amarisoft: AmarisoftSettings | None = Field(
        None, description="a mapping with url (and ims_url, password)"
    )
    callbox: CallboxSettings | None = Field(None, description="a mapping with address and vendor")
    attach_timeout_s: float = Field(
        60.0, gt=0, le=600, description="seconds a device may take to attach (up to 600)"
    )
    sms_timeout_s: float = Field(
        30.0, gt=0, le=300, description="seconds one SMS delivery may take (up to 300)"
    )

    @model_validator(mode="after")
    def _backend_settings(self) -> CellSettings:
        for backend in ("amarisoft", "callbox"):
            if self.backend == backend and getattr(self, backend) is None:
                raise problem(f"cell backend {backend} without its {backend} section", f"{backend}: {{...}}")
        if self.radio == "sdr" and self.backend != "osmocom":
            raise problem("radio: sdr is for the osmocom backend", "backend: osmocom")
        return self
