"""FS38-GSM-01 / FS38-GSM-02 decisions from the modem's configuration (read by AT commands) and
from what the profile declares. Over-the-air behaviour needs a test cell; without one the
over-the-air part is INCONCLUSIVE, never PASS."""

from __future__ import annotations

from harness.drivers.modem import AtModem

# Radio access technologies that expose the device to 2G false base stations (no mutual auth).
GSM_RATS = {"gsm", "gprs", "edge"}


def gsm_allowed_by_modem(modem: AtModem) -> tuple[bool | None, str]:
    """(True: 2G allowed, False: locked out, None: unknown, evidence text) from SIMCom or Quectel commands."""
    simcom = modem.send("AT+CNMP?")
    if simcom.ok and simcom.values("+CNMP:"):
        mode = simcom.values("+CNMP:")[0]
        return mode not in ("38", "54", "9"), f"AT+CNMP? -> {mode} (38 LTE only, 2 automatic, 13 GSM only)"
    quectel = modem.send('AT+QCFG="nwscanmode"')
    if quectel.ok and quectel.values("+QCFG:"):
        mode = quectel.values("+QCFG:")[0].split(",")[-1].strip()
        return mode not in ("3",), f'AT+QCFG="nwscanmode" -> {mode} (3 LTE only, 0 automatic, 1 GSM only)'
    return None, 'the module answers neither AT+CNMP? nor AT+QCFG="nwscanmode"'


def gsm_allowed_by_declaration(radio_access: list[str] | None) -> bool | None:
    if radio_access is None:
        return None
    return bool(GSM_RATS & set(radio_access))


def sms_declaration_findings(class0_ignored: bool | None, ota_authenticated: bool | None,
                             configuration_accepted: bool | None) -> tuple[list[str], list[str]]:  # fmt: skip
    """(findings, missing fields) from the profile's declared SMS handling."""
    findings, missing = [], []
    if class0_ignored is False:
        findings.append("class-0/silent SMS are acted on (declared cellular.class0_sms_ignored: false)")
    if ota_authenticated is False:
        findings.append(
            "OTA/SIM-toolkit SMS are acted on without authentication (cellular.ota_sms_authenticated)"
        )
    if configuration_accepted is True:
        findings.append(
            "the application changes its configuration from SMS content (cellular.sms_configuration_accepted)"
        )
    for name, value in (("class0_sms_ignored", class0_ignored), ("ota_sms_authenticated", ota_authenticated),
                        ("sms_configuration_accepted", configuration_accepted)):  # fmt: skip
        if value is None:
            missing.append(f"profile: cellular.{name}")
    return findings, missing
