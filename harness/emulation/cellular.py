"""The reference device's cellular side: its emulated module's SIM and its SMS weaknesses.

The reference node has a cellular module (an emulation: harness.emulation.module) on the
guest's second serial port, ttyS1, and firmware (overlay usr/sbin/hilsec-cellular) that uses it
as IoT firmware does: it registers, takes new SMS (+CMTI, AT+CMGR in text mode), logs each one
and applies configuration commands. The documented SMS command is `SERVER host:port` (the node's
management server); the hardened firmware applies it only from the management number and with
the device's SMS PIN (`PIN <pin> SERVER host:port`), and never through the shell. The PIN is
provisioned per device on the kernel command line (`hilsec.sms_pin`), as the lab does for SIP.

Knobs, two in the module (the radio side) and two where module and application meet:
- `gsm-null-cipher-accepted`: the module attaches to a 2G cell that neither authenticates nor
  ciphers (A5/0): a downgrade to a false base station.
- `imsi-disclosed-before-auth`: the module answers IDENTITY REQUEST for its IMSI (and IMEISV) in
  a new location area before the network authenticated and ciphered: IMSI catching.
- `sms-config-any-sender`: the application applies `SERVER ...` from any sender without the PIN,
  and through `eval`, so a command in the value runs (a common tracker/gateway weakness).
- `sms-class0-silent-to-app`: the module stores class-0 (flash) and type-0 (silent) SMS and
  announces them like any other, and the application acts on them.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.emulation.sip_ua import IMSI

SIM_IMSI = IMSI  # test PLMN 001-01: not a real subscriber
SIM_KI = "8d1f0a2b3c4d5e6f708192a3b4c5d6e7"  # the emulated SIM's test key (COMP128v1)
MANAGEMENT_NUMBER = "+491700000001"  # the operator's management number the firmware trusts
SMS_PIN = "8461"  # the device's SMS command PIN: provisioned at boot (hilsec.sms_pin), never in the image
AT_PORT = "/dev/ttyS1"

CELLULAR_WEAKNESSES: dict[str, str] = {
    "gsm-null-cipher-accepted": "the cellular module attaches to a 2G cell that neither authenticates nor "
    "ciphers (A5/0), a downgrade to a false base station",
    "imsi-disclosed-before-auth": "the cellular module answers IDENTITY REQUEST for its IMSI in a new "
    "location area before the network authenticated and ciphered (IMSI catching)",
    "sms-config-any-sender": "the firmware applies configuration SMS (SERVER host:port) from any sender "
    "without the PIN, through the shell (a command in the value runs)",
    "sms-class0-silent-to-app": "class-0 (flash) and type-0 (silent) SMS are stored and announced to the "
    "application, which acts on them",
}


def cellular_device_config(weaknesses: Iterable[str]) -> dict[str, str]:
    """device.conf variables read by /usr/sbin/hilsec-cellular."""
    chosen = set(weaknesses)
    return {
        "CELLULAR_AT_PORT": AT_PORT,
        "SMS_MANAGEMENT_NUMBER": MANAGEMENT_NUMBER,
        "SMS_CONFIG": "any-sender" if "sms-config-any-sender" in chosen else "authenticated",
        "SMS_CLASS0_SILENT": "act" if "sms-class0-silent-to-app" in chosen else "ignore",
    }
