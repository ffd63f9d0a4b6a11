"""AT commands to a cellular module over any ByteStream (3GPP TS 27.007 / 27.005).

`send()` writes one command and collects its information lines up to the final result code
(OK, ERROR, +CME ERROR, +CMS ERROR, NO CARRIER, BUSY, NO ANSWER, NO DIALTONE) within a timeout.
Unsolicited result codes (+CMTI, +CMT with its PDU line, +CREG/+CEREG changes, RING, ...) that
arrive before, during or after a command are kept apart in `urcs`, never mixed into an answer;
a line that answers the command (its own prefix) stays with it even when the prefix is one URCs
use too. On top: identity (+CGMI/+CGMM/+CGMR/+CGSN/+CIMI), registration (+CREG/+CEREG/+COPS),
the radio access technologies (a module profile's vendor command, else +WS46) and a profile's
vendor commands. SMS reach the device through the lab's test cell, not through this port.

The module is untrusted input: every line, answer and URC queue is bounded, text is decoded
with replacement, and a module that never finishes an answer is a DeviceTimeout.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field

from harness.errors import DeviceError, DeviceTimeout
from harness.modems.profiles import WS46, ModuleProfile, RatSetting
from harness.transports.stream import ByteStream
from harness.util.deadlines import Deadline

DEFAULT_TIMEOUT_S = 5.0
LINE_LIMIT = 4096  # a longer line is cut (and the rest dropped up to its end)
ANSWER_LINE_LIMIT = 1000
URC_LIMIT = 200
ESC = b"\x1b"
_FINAL = re.compile(
    r"^(OK|ERROR|NO CARRIER|BUSY|NO ANSWER|NO DIALTONE|\+CME ERROR: ?(.*)|\+CMS ERROR: ?(.*))$"
)
# Unsolicited result codes (27.007, 27.005 and common vendor ones). +CMT, +CDS and +CBM carry a
# second line (the PDU in PDU mode, the text in text mode).
URC_PREFIXES = (
    "RING", "+CRING:", "+CLIP:", "+CCWA:", "+CMTI:", "+CMT:", "+CBM:", "+CDS:", "+CDSI:", "+CBMI:",
    "+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:", "+CUSD:", "+CIEV:", "+CPIN:", "+CGEV:", "+CTZV:", "+CTZE:",
    "RDY", "+QIND:", "+QUSIM:", "+UUPSDA:", "+UUSORD:", "+KSUP:", "#SIMREADY", "SMS DONE", "PB DONE",
    "+HSMS:",
)  # fmt: skip
TWO_LINE_URCS = ("+CMT:", "+CDS:", "+CBM:")
REGISTERED = {"1": "registered (home)", "5": "registered (roaming)"}
REG_STATES = {"0": "not registered", "1": "registered (home)", "2": "searching", "3": "registration denied",
              "4": "unknown", "5": "registered (roaming)"}  # fmt: skip
ACT_NAMES = {
    "0": "gsm",
    "1": "gsm-compact",
    "2": "umts",
    "3": "edge",
    "7": "lte",
    "8": "lte-m",
    "9": "nb-iot",
}


class AtCommandError(DeviceError):
    """The module answered ERROR / +CME ERROR / +CMS ERROR."""


@dataclass
class AtResponse:
    command: str
    lines: list[str] = field(default_factory=list)
    final: str = "OK"

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    def values(self, prefix: str) -> list[str]:
        """The text after `prefix` (e.g. '+CNMP:') on every information line that starts with it."""
        return [line[len(prefix) :].strip() for line in self.lines if line.startswith(prefix)]


@dataclass(frozen=True)
class Urc:
    when: float
    line: str
    data: str = ""  # the second line of +CMT / +CDS / +CBM

    @property
    def name(self) -> str:
        return self.line.split(":", 1)[0] if ":" in self.line else self.line


@dataclass(frozen=True)
class ModemIdentity:
    manufacturer: str
    model: str
    revision: str
    imei: str
    imsi: str


@dataclass(frozen=True)
class Registration:
    """+CREG (circuit switched) and +CEREG (EPS) states, and the operator from +COPS."""

    cs: str | None
    eps: str | None
    operator: str
    access: str | None  # from +COPS <AcT>

    @property
    def registered(self) -> bool:
        return self.cs in REGISTERED or self.eps in REGISTERED

    def describe(self) -> str:
        parts = []
        if self.cs is not None:
            parts.append(f"CS {REG_STATES.get(self.cs, self.cs)}")
        if self.eps is not None:
            parts.append(f"EPS {REG_STATES.get(self.eps, self.eps)}")
        if self.operator:
            parts.append(f"operator {self.operator}" + (f" ({self.access})" if self.access else ""))
        return ", ".join(parts) or "no registration information"


@dataclass(frozen=True)
class RadioAccess:
    """What the module's configuration lets it use, read with `command`."""

    allowed: frozenset[str] | None  # None: the answer was not understood
    command: str
    answer: str


def _csv(text: str) -> list[str]:
    return [part.strip().strip('"') for part in text.split(",")]


class AtModem:
    """An AT command channel: one command at a time, URCs collected on the side."""

    def __init__(self, stream: ByteStream, *, timeout: float = DEFAULT_TIMEOUT_S,
                 profile: ModuleProfile | None = None) -> None:  # fmt: skip
        self.stream = stream
        self.timeout = timeout
        self.profile = profile
        self.urcs: deque[Urc] = deque(maxlen=URC_LIMIT)
        self._buffer = b""
        self._pending_urc: str | None = None

    # --- lines --------------------------------------------------------------------------------
    def _readline(self, deadline: Deadline, what: str) -> str:
        """The next non-empty line; DeviceTimeout at the deadline."""
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if ends:
                cut = min(ends)
                line, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
                return line[:LINE_LIMIT].decode(errors="replace").strip()
            if len(self._buffer) > LINE_LIMIT:
                self._buffer = self._buffer[-LINE_LIMIT:]  # an endless line: keep its tail only
            remaining = deadline.remaining()
            if remaining == 0:
                raise DeviceTimeout(f"{what}: no final result code from the modem")
            self._buffer += self.stream.read(4096, min(remaining, 0.5))

    def _urc(self, line: str) -> bool:
        """Keep `line` as (part of) a URC if it is one; True when consumed."""
        if self._pending_urc is not None:
            self.urcs.append(Urc(time.time(), self._pending_urc, line))
            self._pending_urc = None
            return True
        if not line.startswith(URC_PREFIXES):
            return False
        if line.startswith(TWO_LINE_URCS):
            self._pending_urc = line
        else:
            self.urcs.append(Urc(time.time(), line))
        return True

    # --- commands -----------------------------------------------------------------------------
    def send(self, command: str, timeout: float | None = None, *, check: bool = False) -> AtResponse:
        self.stream.write(command.encode() + b"\r")
        return self._collect(command, Deadline.after(timeout or self.timeout), check)

    def _collect(self, command: str, deadline: Deadline, check: bool) -> AtResponse:
        response = AtResponse(command)
        own = _answer_prefix(command)
        while True:
            line = self._readline(deadline, command)
            if not line or line == command or line == command.rstrip("\r"):
                continue  # echo
            if _FINAL.match(line):
                response.final = line
                break
            if (own is None or not line.startswith(own)) and self._urc(line):
                continue
            if len(response.lines) < ANSWER_LINE_LIMIT:
                response.lines.append(line)
        if check and not response.ok:
            raise AtCommandError(f"{command}: {response.final}")
        return response

    # --- identity and registration ------------------------------------------------------------
    def identity(self) -> ModemIdentity:
        def first(command: str, prefix: str = "") -> str:
            answer = self.send(command)
            if not answer.ok:
                return ""
            lines = [
                line[len(prefix) :].strip() if prefix and line.startswith(prefix) else line
                for line in answer.lines
            ]
            return lines[0] if lines else ""

        return ModemIdentity(
            manufacturer=first("AT+CGMI", "+CGMI:"), model=first("AT+CGMM", "+CGMM:"),
            revision=first("AT+CGMR", "+CGMR:"), imei=first("AT+CGSN", "+CGSN:"), imsi=first("AT+CIMI", "+CIMI:"),
        )  # fmt: skip

    def registration(self) -> Registration:
        def state(command: str, prefix: str) -> str | None:
            answer = self.send(command)
            values = answer.values(prefix) if answer.ok else []
            if not values:
                return None
            fields = _csv(values[0])
            return fields[1] if len(fields) > 1 else fields[0]

        cs = state("AT+CREG?", "+CREG:")
        eps = state("AT+CEREG?", "+CEREG:")
        cops = self.send("AT+COPS?")
        operator, access = "", None
        if cops.ok and cops.values("+COPS:"):
            fields = _csv(cops.values("+COPS:")[0])
            operator = fields[2] if len(fields) > 2 else ""
            access = ACT_NAMES.get(fields[3], fields[3]) if len(fields) > 3 else None
        return Registration(cs, eps, operator, access)

    # --- radio access technology --------------------------------------------------------------
    def rat_setting(self) -> RatSetting:
        return self.profile.rat if self.profile is not None and self.profile.rat is not None else WS46

    def radio_access(self) -> RadioAccess:
        """The RATs the module's configuration allows (its profile's command, else +WS46)."""
        setting = self.rat_setting()
        answer = self.send(setting.query)
        values = answer.values(setting.prefix) if answer.ok else []
        if not values:
            return RadioAccess(None, setting.query, answer.final if not answer.ok else "no answer line")
        fields = _csv(values[0])
        value = fields[setting.index] if len(fields) > setting.index else ""
        return RadioAccess(setting.allowed(value), setting.query, f"{setting.prefix} {values[0]}")

    # --- vendor commands ----------------------------------------------------------------------
    def vendor(self, name: str, timeout: float | None = None, **arguments: str) -> AtResponse:
        """A command the module profile declares (`firmware_revision`, `debug_ports`, ...)."""
        if self.profile is None or name not in self.profile.commands:
            known = ", ".join(self.profile.commands) if self.profile else "none (no module profile)"
            raise KeyError(f"the module profile declares no {name!r} command; declared: {known}")
        return self.send(self.profile.commands[name].command.format(**arguments), timeout)


def _answer_prefix(command: str) -> str | None:
    """ "+CREG:" for AT+CREG?, AT+CREG=2, ...; None for basic commands (ATI, ATE0)."""
    match = re.match(r"^AT([+#$%^][A-Z0-9]+)", command.strip(), re.IGNORECASE)
    return match.group(1).upper() + ":" if match else None
