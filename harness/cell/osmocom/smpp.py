"""Mobile-terminated SMS through osmo-msc's SMSC, over SMPP (smpplib), in transaction mode.

In transaction (forward) mode (esm_class message mode 2) osmo-msc delivers at once and answers
submit_sm only when the phone has acknowledged (RP-ACK: status 0) or the delivery failed
(0xFE, delivery failure): the answer is the delivery outcome. Raw TP fields map to SMPP as
osmo-msc 1.9 reads them (smpp_openbsc.c): TP-PID is protocol_id; TP-DCS values of the class
groups 0xF0-0xF7 pass through unchanged, 0x04 is 8-bit data, 0x08 UCS2, 0x00 the 7-bit alphabet;
a user data header sets esm_class UDHI and leads short_message. osmo-msc rewrites a 7-bit class
(0xF0-0xF3) to DCS 0 (LAB_NOTES), so tests send class 0 as 8-bit (0xF4), and it turns plain 8-bit
(SMPP 4) into class 0 (0xF4), so an 8-bit message without a class goes as 0xF5 (see smpp_data_coding).
"""

from __future__ import annotations

import time
from contextlib import nullcontext

import smpplib.client
import smpplib.exceptions

from harness.cell.model import MtSms, SmsDelivery
from harness.errors import HarnessSetupError
from harness.lab.side import LabSide
from harness.util.deadlines import Deadline

ESM_TRANSACTION_MODE = 0x02
ESM_UDHI = 0x40
TON_INTERNATIONAL, TON_ALPHANUMERIC, TON_UNKNOWN = 1, 5, 0


def smpp_data_coding(dcs: int) -> int:
    """The SMPP data_coding for a TP-DCS. osmo-msc 1.9 sends SMPP 8-bit data (2 or 4) as DCS 0xF4,
    which is class 0; an 8-bit message without a class therefore goes as 0xF5 (class 1, ME-specific),
    the closest it carries. The class groups 0xF0-0xF7 pass through unchanged."""
    if dcs & 0xF0 == 0xF0 or dcs in (0x00, 0x08):
        return dcs
    if dcs & 0xC0 == 0x00:  # general data coding: by alphabet (and class, when one is given)
        alphabet = (dcs >> 2) & 0x03
        if alphabet == 1:
            return 0xF4 | (dcs & 0x03) if dcs & 0x10 else 0xF5
        return {0: 0x00, 2: 0x08}.get(alphabet, 0xF5)
    return 0xF5


def _source(originator: str) -> tuple[int, str]:
    digits = originator.lstrip("+")
    if digits.isdigit():
        return (TON_INTERNATIONAL if originator.startswith("+") else TON_UNKNOWN), digits
    return TON_ALPHANUMERIC, originator[:11]


class SmppSender:
    """One bound ESME session to the MSC (opened in the cell's namespace, used from any thread)."""

    def __init__(self, namespace: str | None, port: int, system_id: str, password: str, *,
                 timeout: float = 10.0) -> None:  # fmt: skip
        self._client = smpplib.client.Client(
            "127.0.0.1", port, timeout=timeout, allow_unknown_opt_params=True
        )
        side = LabSide(namespace) if namespace else None
        try:
            with side.entered() if side else nullcontext():
                self._client.connect()
            self._client.bind_transceiver(system_id=system_id, password=password)
        except (OSError, smpplib.exceptions.PDUError, smpplib.exceptions.ConnectionError) as err:
            raise HarnessSetupError(f"SMPP bind to 127.0.0.1:{port}: {err}") from err
        self._client.set_message_received_handler(lambda pdu: None)

    def deliver(self, destination: str, sms: MtSms, timeout: float) -> SmsDelivery:
        ton, source = _source(sms.originator)
        answers: list[int] = []
        self._client.set_message_sent_handler(lambda pdu: answers.append(int(pdu.status)))
        self._client.set_error_pdu_handler(lambda pdu: answers.append(int(pdu.status)))
        started = time.monotonic()
        deadline = Deadline.after(timeout)
        try:
            self._client.send_message(
                source_addr_ton=ton, source_addr_npi=1 if ton != TON_ALPHANUMERIC else 0,
                source_addr=source, dest_addr_ton=TON_UNKNOWN, dest_addr_npi=1,
                destination_addr=destination, short_message=sms.udh + sms.user_data,
                data_coding=smpp_data_coding(sms.dcs), protocol_id=sms.pid,
                esm_class=ESM_TRANSACTION_MODE | (ESM_UDHI if sms.udh else 0), registered_delivery=0,
            )  # fmt: skip
        except (OSError, smpplib.exceptions.ConnectionError) as err:
            return SmsDelivery("failed", time.monotonic() - started, f"SMPP submit failed: {err}")
        while not answers and not deadline.expired:
            self._client._socket.settimeout(max(0.1, min(1.0, deadline.remaining())))
            try:
                self._client.read_once()
            except (TimeoutError, OSError):
                continue
            except smpplib.exceptions.ConnectionError as err:
                return SmsDelivery("failed", time.monotonic() - started, f"SMPP connection lost: {err}")
        seconds = time.monotonic() - started
        if not answers:
            return SmsDelivery("timeout", seconds, f"no delivery outcome within {timeout:.0f} s")
        if answers[0] == 0:
            return SmsDelivery("delivered", seconds, "the phone acknowledged it (RP-ACK)")
        if answers[0] == 0x0B:
            return SmsDelivery(
                "failed", seconds, "the network does not know the subscriber (ESME_RINVDSTADR)"
            )
        return SmsDelivery("failed", seconds, f"delivery failure (SMPP status 0x{answers[0]:02x})")

    def close(self) -> None:
        try:
            self._client.unbind()
        except Exception:  # noqa: BLE001 - closing a session that may already be gone
            pass
        try:
            self._client.disconnect()
        except Exception:  # noqa: BLE001
            pass
