"""ScpiCallbox: a SCPI-controlled radio communication tester as a TestCell (the R&S CMW500 GSM
signalling application; a Keysight UXM is recognised and refused, see below).

Commands are those of the CMW GSM signalling command reference and its programming examples, as
R&S's public instrument drivers (RsCmwGsmSig) name them:
- cell: `SOURce:GSM:SIGN:CELL:STATe ON|OFF`, `SOURce:GSM:SIGN:CELL:STATe:ALL?` (ON,ADJ when the
  cell signal is there); `CONFigure:GSM:SIGN:CELL:MCC`, `:MNC:DIGits TWO|THRee`, `:MNC`, `:LAC`;
- security: `CONFigure:GSM:SIGN:CELL:SECurity:AUTHenticat ON|OFF`, `CONFigure:GSM:SIGN:CELL:IMEirequest`;
- the mobile: `FETCh:GSM:SIGN:CSWitched:STATe?` (OFF, ON, SYNC, ALER, CEST, LUPD, CONN, REL, IMS,
  SMES, RMES, IHAN, OHAN), `SENSe:GSM:SIGN:MSSinfo:IMSI?` / `:IMEI?`;
- SMS: `CONFigure:GSM:SIGN:SMS:OUTGoing:` SDOMain, OADDress, CGRoup DCMClass|GDCoding, MCLass CL0..3,
  PIDentifier, DCODing BIT7|BIT8, UDHeader, BINary, INTernal; `CALL:GSM:SIGN:CSWitched:ACTion SMS`;
  `SENSe:GSM:SIGN:SMS:OUTGoing:INFO:LMSent?` (SUCCessful | FAILed);
- errors: the standard `SYSTem:ERRor?` queue, read after every configuration step.

Not found in those sources, so not guessed: a command that chooses the A5 algorithms (a request
for other ciphers is CellUnsupported: INCONCLUSIVE, naming it), a command that makes the tester
ask for the IMSI, and how to add a subscriber (the tester authenticates its own test SIM, whose
key is set on the instrument). The Keysight UXM's GSM command set is not in public manuals used
here. Not run against an instrument: the tests replay recorded exchanges through a SCPI stand-in
(tests/support/scpi_standin.py). Transport: HOST:PORT is a raw SCPI socket (no library); a VISA
resource string goes through pyvisa with pyvisa-py (extra `cell-callbox`), imported only then.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from harness.capabilities.cell import TestCell
from harness.cell.amarisoft import CellUnsupported
from harness.cell.model import (
    Attachment,
    CellEvent,
    CellSecurity,
    MtSms,
    NetworkIdentity,
    SmsDelivery,
    Subscriber,
)
from harness.errors import HarnessSetupError
from harness.util.deadlines import Deadline, wait_until
from harness.util.text import bounded, one_line

TIMEOUT_S = 10.0
ANSWER_LIMIT = 64 * 1024  # one answer line; a longer one is refused
TRANSCRIPT_LIMIT = 20000
POLL_S = 1.0
SIGN = "GSM:SIGN"
ATTACHED_STATES = {"SYNC", "ALER", "CEST", "CONN", "SMES", "RMES"}  # camped and known after location update
SMS_DONE = {"SUCC": "delivered", "SUCCESSFUL": "delivered", "FAIL": "failed", "FAILED": "failed"}


class ScpiLink(Protocol):
    def write(self, command: str) -> None: ...

    def query(self, command: str) -> str: ...

    def close(self) -> None: ...


class SocketScpi:
    """SCPI over a raw TCP socket: one line out, one line back for a query, bounded in size and time."""

    def __init__(self, address: str, timeout: float = TIMEOUT_S) -> None:
        host, _, port = address.rpartition(":")
        self.address, self.timeout = address, timeout
        try:
            self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        except (OSError, ValueError) as err:
            raise HarnessSetupError(f"SCPI callbox {address} is not reachable: {err}") from err
        self._buffer = b""

    def write(self, command: str) -> None:
        try:
            self._sock.sendall(command.encode() + b"\n")
        except OSError as err:
            raise HarnessSetupError(f"SCPI callbox {self.address}: {err}") from err

    def query(self, command: str) -> str:
        self.write(command)
        deadline = Deadline.after(self.timeout)
        while b"\n" not in self._buffer:
            remaining = deadline.remaining()  # read once: a timeout of 0 makes the socket non-blocking
            if remaining <= 0:
                raise HarnessSetupError(
                    f"SCPI callbox {self.address}: no answer to {command} in {self.timeout:.0f} s"
                )
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError as err:
                raise HarnessSetupError(
                    f"SCPI callbox {self.address}: no answer to {command}: {err}"
                ) from err
            if not chunk:
                raise HarnessSetupError(f"SCPI callbox {self.address} closed the connection")
            self._buffer += chunk
            if len(self._buffer) > ANSWER_LIMIT and b"\n" not in self._buffer:
                raise HarnessSetupError(f"SCPI callbox answer to {command} exceeds {ANSWER_LIMIT} bytes")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("ascii", "replace").strip()

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


class VisaScpi:
    """A VISA resource (TCPIP::...::hislip0, ::INSTR, ::SOCKET) through pyvisa and pyvisa-py."""

    def __init__(self, resource: str, timeout: float = TIMEOUT_S) -> None:
        try:
            import pyvisa
        except ImportError as err:
            raise HarnessSetupError(
                "a VISA callbox address needs pyvisa and pyvisa-py (pip install 'hilsec[cell-callbox]')"
            ) from err
        self.resource = resource
        self._errors: tuple[type[BaseException], ...] = (pyvisa.Error, OSError, ValueError)
        try:
            self._instrument = pyvisa.ResourceManager("@py").open_resource(
                resource, open_timeout=int(timeout * 1000), timeout=int(timeout * 1000),
                read_termination="\n", write_termination="\n",
            )  # fmt: skip
        except (*self._errors, ImportError) as err:  # pyvisa-py missing surfaces as a ValueError/ImportError
            raise HarnessSetupError(
                f"SCPI callbox {resource} is not reachable: {one_line(str(err))}"
            ) from err

    def write(self, command: str) -> None:
        try:
            self._instrument.write(command)
        except self._errors as err:
            raise HarnessSetupError(f"SCPI callbox {self.resource}: {one_line(str(err))}") from err

    def query(self, command: str) -> str:
        self.write(command)
        answer = b""
        try:  # chunks up to the line end, never more than ANSWER_LIMIT (pyvisa's read() has no bound)
            while not answer.endswith(b"\n"):
                answer += self._instrument.read_bytes(4096, break_on_termchar=True)
                if len(answer) > ANSWER_LIMIT:
                    raise HarnessSetupError(f"SCPI callbox answer to {command} exceeds {ANSWER_LIMIT} bytes")
        except self._errors as err:
            raise HarnessSetupError(
                f"SCPI callbox {self.resource}: no answer to {command}: {one_line(str(err))}"
            ) from err
        return answer.decode("ascii", "replace").strip()

    def close(self) -> None:
        try:
            self._instrument.close()
        except self._errors:
            pass


def open_link(address: str, timeout: float = TIMEOUT_S) -> ScpiLink:
    return VisaScpi(address, timeout) if "::" in address else SocketScpi(address, timeout)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


class ScpiCallbox(TestCell):
    def __init__(self, settings: Any, *, network: NetworkIdentity | None = None,
                 connect: Callable[[str, float], ScpiLink] = open_link) -> None:  # fmt: skip
        self.settings = settings
        self.timeout = float(getattr(settings, "timeout_s", TIMEOUT_S))
        self.cell_on_timeout = float(getattr(settings, "cell_on_timeout_s", 60.0))
        self._network = network or NetworkIdentity()
        self._security = CellSecurity()
        self.connect = connect
        self.link: ScpiLink | None = None
        self.transcript: deque[str] = deque(maxlen=TRANSCRIPT_LIMIT)
        self._events: list[CellEvent] = []
        self._state = ""
        self.instrument = ""
        vendor = "R&S CMW500" if settings.vendor == "rs-cmw" else "Keysight UXM"
        self.description = f"SCPI callbox {vendor} at {settings.address}"
        self.radio = f"callbox ({vendor}, GSM over RF)"

    @property
    def network(self) -> NetworkIdentity:
        return self._network

    @property
    def security(self) -> CellSecurity:
        return self._security

    def _link(self) -> ScpiLink:
        if self.link is None:
            raise HarnessSetupError(f"{self.description} is not started")
        return self.link

    def _write(self, command: str) -> None:
        self.transcript.append(f"> {command}")
        self._link().write(command)

    def _query(self, command: str) -> str:
        self.transcript.append(f"> {command}")
        answer = self._link().query(command)
        self.transcript.append(f"< {bounded(one_line(answer), 500)}")
        return answer

    def _check_errors(self, step: str) -> None:
        """The instrument's error queue after a configuration step (SCPI SYSTem:ERRor?)."""
        errors = []
        for _ in range(20):  # the queue is finite; a tester that never says "0," is itself an error
            answer = self._query("SYSTem:ERRor?")
            if answer.split(",", 1)[0].strip() in ("0", "+0"):
                break
            errors.append(bounded(one_line(answer), 200))
        if errors:
            raise HarnessSetupError(f"{self.description} refused {step}: {'; '.join(errors)}")

    def start(self) -> None:
        self.link = self.connect(self.settings.address, self.timeout)
        self.instrument = bounded(one_line(self._query("*IDN?")), 200)
        if self.settings.vendor != "rs-cmw":
            raise CellUnsupported(f"{self.instrument}: hilsec drives the R&S CMW GSM signalling commands only; "
                                  "the Keysight UXM GSM command set is not in the public documentation used here")  # fmt: skip
        self._apply()
        self._write(f"SOURce:{SIGN}:CELL:STATe ON")
        self._wait_cell_on()
        self._note("cell up", f"{self._network.describe()}; {self._security.describe()}")

    def _wait_cell_on(self) -> None:
        def on() -> bool:
            return self._query(f"SOURce:{SIGN}:CELL:STATe:ALL?").upper().replace(" ", "").startswith("ON,ADJ")

        if not wait_until(on, self.cell_on_timeout, POLL_S):
            raise HarnessSetupError(
                f"the callbox's GSM cell did not come on within {self.cell_on_timeout:.0f} s"
            )

    def _apply(self) -> None:
        n, s = self._network, self._security
        self._write(f"CONFigure:{SIGN}:CELL:MCC {int(n.mcc)}")
        self._write(f"CONFigure:{SIGN}:CELL:MNC:DIGits {'TWO' if len(n.mnc) == 2 else 'THRee'}")
        self._write(f"CONFigure:{SIGN}:CELL:MNC {int(n.mnc)}")
        self._write(f"CONFigure:{SIGN}:CELL:LAC {n.lac}")
        self._write(f"CONFigure:{SIGN}:CELL:SECurity:AUTHenticat {'ON' if s.authentication else 'OFF'}")
        self._write(f"CONFigure:{SIGN}:CELL:IMEirequest {'ON' if 'imei' in s.identity_requests else 'OFF'}")
        self._check_errors("the cell configuration")

    def stop(self) -> None:
        if self.link is not None:
            try:
                self._write(f"SOURce:{SIGN}:CELL:STATe OFF")
            except HarnessSetupError:
                pass
            self.link.close()

    def identity(self) -> dict[str, str]:
        return {"cell": self.description, "cell_radio": self.radio, "cell_instrument": self.instrument}

    def configure(
        self, *, network: NetworkIdentity | None = None, security: CellSecurity | None = None
    ) -> None:
        wanted = security or self._security
        if set(wanted.ciphers) != set(self._security.ciphers):
            raise CellUnsupported(
                f"{self.description}: no documented SCPI command selects the A5 algorithms "
                f"({', '.join(map(str, wanted.ciphers))} wanted); set ciphering on the instrument and rerun"
            )
        if "imsi" in wanted.identity_requests and "imsi" not in self._security.identity_requests:
            raise CellUnsupported(
                f"{self.description}: no documented SCPI command makes the tester ask for the IMSI"
            )
        self._network, self._security = network or self._network, wanted
        self._write(f"SOURce:{SIGN}:CELL:STATe OFF")
        self._apply()
        self._write(f"SOURce:{SIGN}:CELL:STATe ON")
        self._wait_cell_on()
        self._note("cell reconfigured", f"{self._network.describe()}; {self._security.describe()}")

    def add_subscriber(self, subscriber: Subscriber) -> None:
        # The tester authenticates its own test SIM (its key is set on the instrument, not here).
        self._note("subscriber expected", "the tester's test SIM", f"IMSI {subscriber.imsi}")

    def _cs_state(self) -> str:
        state = one_line(self._query(f"FETCh:{SIGN}:CSWitched:STATe?")).upper()[:16]
        if state != self._state:
            self._note(
                "location update" if state == "LUPD" else "connection state",
                f"{self._state or '-'} -> {state}",
            )
            self._state = state
        return state

    def wait_attached(self, imsi: str, timeout: float) -> Attachment:
        started = time.monotonic()
        state = ""

        def attached() -> bool:
            nonlocal state
            state = self._cs_state()
            if state not in ATTACHED_STATES:
                return False
            seen = one_line(self._query(f"SENSe:{SIGN}:MSSinfo:IMSI?")).strip("\"'")[:20]
            self._note("identity", f"IMSI reported by the tester: {seen}", f"IMSI {seen}" if seen else "")
            return seen == imsi

        if wait_until(attached, timeout, POLL_S):
            return Attachment(imsi, True, time.monotonic() - started, f"connection state {state}")
        return Attachment(imsi, False, time.monotonic() - started, f"connection state {state or 'unknown'}")

    def send_sms(self, imsi: str, sms: MtSms, timeout: float) -> SmsDelivery:
        binary = bool(sms.udh) or sms.dcs & 0x0C == 0x04
        klass = sms.message_class
        self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:SDOMain CS")
        self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:OADDress {_quoted(sms.originator)}")
        self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:CGRoup {'GDCoding' if klass is None else 'DCMClass'}")
        self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:MCLass {'NONE' if klass is None else f'CL{klass}'}")
        self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:PIDentifier #H{sms.pid:X}")
        self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:DCODing {'BIT8' if binary else 'BIT7'}")
        if sms.udh:  # the header's information elements, without its length octet
            self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:UDHeader #H{sms.udh[1:].hex().upper()}")
        if binary:
            self._write(f"CONFigure:{SIGN}:SMS:OUTGoing:BINary #H{sms.user_data.hex().upper()}")
        else:
            self._write(
                f"CONFigure:{SIGN}:SMS:OUTGoing:INTernal {_quoted(sms.user_data.decode(errors='replace'))}"
            )
        self._check_errors(f"the SMS fields of {sms.label or 'an SMS'}")
        started = time.monotonic()
        self._write(f"CALL:{SIGN}:CSWitched:ACTion SMS")

        def done() -> str:
            status = one_line(self._query(f"SENSe:{SIGN}:SMS:OUTGoing:INFO:LMSent?")).upper()[:16]
            return status if status in SMS_DONE else ""

        status = wait_until(done, timeout, POLL_S)
        if status:
            outcome = SMS_DONE[status]
            self._note(f"sms {outcome}", f"{sms.label or 'SMS'}: {status}", f"IMSI {imsi}")
            return SmsDelivery(outcome, time.monotonic() - started, f"tester reports {status}")
        self._note("sms timeout", f"{sms.label or 'SMS'}: no status within {timeout:.0f} s", f"IMSI {imsi}")
        return SmsDelivery("timeout", time.monotonic() - started, f"no SMS status within {timeout:.0f} s")

    def _note(self, kind: str, detail: str, identity: str = "") -> None:
        self._events.append(CellEvent(time.time(), kind, "network", 0, identity, detail))

    def events(self, since: float | None = None) -> list[CellEvent]:
        return [e for e in self._events if since is None or e.when >= since]

    def evidence(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "cell-scpi-transcript.txt"
        path.write_text("\n".join(self.transcript) + "\n")
        return [path]
