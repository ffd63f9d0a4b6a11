"""FS38-GSM-01 (false base stations, IMSI catching) and FS38-GSM-02 (SMS).

No radio here: the over-the-air attacks (a false 2G cell, crafted SMS) need a radio test cell, and
hilsec has no over-the-air backend yet, so those parts end INCONCLUSIVE, never PASS. What runs: the
modem's radio-access configuration read by AT commands, and the SMS handling the profile declares.
"""

from __future__ import annotations

import pytest

from harness.capabilities import AtPort
from harness.checks.gsm import gsm_allowed_by_declaration, gsm_allowed_by_modem, sms_declaration_findings
from harness.drivers.modem import AtModem
from harness.plugin.conclusions import inconclusive, not_applicable

NO_TEST_CELL = "this lab has no radio test cell (hilsec has no over-the-air backend yet)"


def _cellular(profile) -> None:
    reason = profile.features.absence_reason("cellular")
    if reason:
        not_applicable(reason)
    if profile.cellular is None:
        inconclusive("the profile declares no cellular section (profile: cellular)")


@pytest.mark.requirement("FS38-GSM-01", "EN303645-5.5-1", "EN18031-SCM-3", "CLP13_6.19")
def test_modem_does_not_fall_back_to_gsm(device, profile, evidence):
    """2G allowed by the module (false base stations without mutual authentication) is a FAIL."""
    _cellular(profile)
    cellular = profile.cellular
    declared = gsm_allowed_by_declaration(cellular.radio_access)
    gsm_feature = profile.features.has("gsm")  # features.gsm: the maker's word on 2G support
    if declared is None:
        declared = gsm_feature
    modem_setting, detail = None, "profile declares no modem AT port (profile: cellular.modem)"
    at_port = device.get(AtPort)
    if at_port is not None:
        stream = at_port.open()
        try:
            modem_setting, detail = gsm_allowed_by_modem(AtModem(stream))
        finally:
            stream.close()
    evidence.write_json("radio-access.json", {"declared_radio_access": cellular.radio_access,
                                               "modem": detail})  # fmt: skip
    assert modem_setting is not True, f"the module allows GSM (2G) fallback: {detail}"
    assert gsm_feature is not True, "the profile declares GSM (2G) support (features.gsm)"
    assert declared is not True, f"the profile declares 2G radio access: {cellular.radio_access}"
    assert cellular.null_cipher_rejected is not False, (
        "the module accepts unciphered connections (declared cellular.null_cipher_rejected: false)"
    )
    if modem_setting is None and declared is None:
        inconclusive(f"radio access unknown: {detail}; profile: cellular.radio_access")
    inconclusive(f"configuration shows no 2G, but {NO_TEST_CELL} for the false-base-station attack")


@pytest.mark.requirement("FS38-GSM-02", "EN303645-5.13-1", "EN18031-ACM-2", "CLP13_6.12")
def test_sms_cannot_change_configuration(device, profile, evidence):
    """Declared acceptance of unauthenticated OTA, class-0 or configuration SMS is a FAIL."""
    _cellular(profile)
    if profile.features.absence_reason("sms"):
        not_applicable(profile.features.absence_reason("sms"))
    c = profile.cellular
    findings, missing = sms_declaration_findings(c.class0_sms_ignored, c.ota_sms_authenticated,
                                                 c.sms_configuration_accepted)  # fmt: skip
    evidence.write_json("sms-declaration.json", {"findings": findings, "missing": missing})
    assert not findings, "; ".join(findings)
    if missing:
        inconclusive("missing evidence: " + ", ".join(missing))
    inconclusive(f"declared SMS handling is sound, but {NO_TEST_CELL} to deliver crafted SMS")
