"""The emulated module's AT command interpreter (3GPP TS 27.007 / 27.005 subset), one per port.

Each AT port (the guest's ttyS1, the lab's own AT channel) has its own echo, SMS format and
indication settings, as the interfaces of a real module do; registration, the SIM and the SMS
store are the module's (harness.emulation.module.module.ModuleCore). Answers follow the
27.007 formats the harness's AT driver and IoT firmware parse: information lines, then OK,
ERROR, +CME ERROR or +CMS ERROR. Lines are bounded; an unknown command is +CME ERROR: 4.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.emulation.module.module import ModuleCore, StoredMessage

LINE_LIMIT = 2048
CME_NOT_SUPPORTED = "+CME ERROR: 4"
CMS_INVALID_INDEX = "+CMS ERROR: 321"
CMS_NOT_SUPPORTED = "+CMS ERROR: 303"
STATUS_CODES = {"REC UNREAD": 0, "REC READ": 1}


@dataclass
class ChannelSettings:
    echo: bool = True
    text_mode: bool = False  # +CMGF
    show_header: bool = False  # +CSDH
    new_message_mode: int = 0  # +CNMI <mt>
    creg: int = 0  # +CREG <n>


class AtChannel:
    """Interprets one port's command lines; `write` sends bytes back to that port."""

    def __init__(self, core: ModuleCore, write: Callable[[bytes], None], name: str) -> None:
        self.core = core
        self.write = write
        self.name = name
        self.settings = ChannelSettings()
        self._buffer = b""
        self._lock = threading.Lock()

    # --- bytes in, lines out ------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if not ends:
                if len(self._buffer) > LINE_LIMIT:
                    self._buffer = b""
                return
            cut = min(ends)
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
            line = raw[:LINE_LIMIT].decode(errors="replace").strip()
            if line:
                self._command(line)

    def send_lines(self, *lines: str) -> None:
        with self._lock:
            self.write(b"".join(f"\r\n{line}\r\n".encode() for line in lines))

    def unsolicited(self, line: str, data: str | None = None) -> None:
        self.send_lines(line, *(() if data is None else (data,)))

    def _command(self, line: str) -> None:
        if self.settings.echo:
            with self._lock:
                self.write(line.encode() + b"\r")
        if not line.upper().startswith("AT"):
            return self.send_lines("ERROR")
        body = line[2:]
        try:
            answer = self._dispatch(body)
        except (ValueError, IndexError):
            answer = ["ERROR"]
        self.send_lines(*answer)

    # --- commands -----------------------------------------------------------------------------
    def _dispatch(self, body: str) -> list[str]:
        upper = body.upper()
        core = self.core
        if upper == "":
            return ["OK"]
        if upper in ("E0", "E1"):
            self.settings.echo = upper == "E1"
            return ["OK"]
        if upper in ("I", "I0"):
            return [core.manufacturer, core.model, f"Revision: {core.revision}", "OK"]
        simple = {"+CGMI": core.manufacturer, "+CGMM": core.model, "+CGMR": core.revision,
                  "+CGSN": core.imei, "+CIMI": core.sim.imsi, "+HGMR": core.revision}  # fmt: skip
        if upper in simple:
            return [simple[upper], "OK"]
        if upper == "+CPIN?":
            return ["+CPIN: READY", "OK"]
        if upper.startswith("+CFUN"):
            return self._cfun(upper)
        if upper == "+CSQ":
            return [f"+CSQ: {31 if core.camped else 99},{0 if core.camped else 99}", "OK"]
        if upper.startswith("+CREG"):
            return self._creg(upper)
        if upper.startswith(("+CEREG", "+CGREG")):
            return [CME_NOT_SUPPORTED]  # a GSM (circuit switched only) module
        if upper.startswith("+COPS"):
            return self._cops(upper)
        if upper.startswith("+WS46"):
            if upper == "+WS46?":
                return ["+WS46: 12", "OK"]
            if upper == "+WS46=?":
                return ["+WS46: (12)", "OK"]
            return ["OK"] if upper == "+WS46=12" else [CME_NOT_SUPPORTED]
        if upper.startswith("+CMGF"):
            if upper == "+CMGF?":
                return [f"+CMGF: {int(self.settings.text_mode)}", "OK"]
            self.settings.text_mode = upper.endswith("=1")
            return ["OK"]
        if upper.startswith("+CSDH"):
            if upper == "+CSDH?":
                return [f"+CSDH: {int(self.settings.show_header)}", "OK"]
            self.settings.show_header = upper.endswith("=1")
            return ["OK"]
        if upper.startswith("+CNMI"):
            if upper == "+CNMI?":
                return [f"+CNMI: 2,{self.settings.new_message_mode},0,0,0", "OK"]
            values = upper.split("=", 1)[1].split(",")
            self.settings.new_message_mode = int(values[1]) if len(values) > 1 and values[1] else 0
            return ["OK"]
        if upper.startswith("+CPMS"):
            used = len(core.messages())
            return [
                f'+CPMS: "ME",{used},{core.capacity},"ME",{used},{core.capacity},"ME",{used},{core.capacity}',
                "OK",
            ]
        if upper.startswith("+CSCA"):
            return [f'+CSCA: "{core.service_centre}",145', "OK"]
        if upper.startswith("+CMGL"):
            return self._list(body.split("=", 1)[1] if "=" in body else "")
        if upper.startswith("+CMGR="):
            return self._read(int(upper.split("=", 1)[1]))
        if upper.startswith("+CMGD="):
            index = int(upper.split("=", 1)[1].split(",")[0])
            flag = upper.split(",")[1] if "," in upper else "0"
            if flag in ("4", "3", "2", "1"):
                core.delete_all()
                return ["OK"]
            return ["OK"] if core.delete(index) else [CMS_INVALID_INDEX]
        if upper.startswith("+CMGS"):
            return [CMS_NOT_SUPPORTED]  # the emulation does not originate SMS
        return [CME_NOT_SUPPORTED]

    def _cfun(self, upper: str) -> list[str]:
        if upper == "+CFUN?":
            return [f"+CFUN: {self.core.functionality}", "OK"]
        if upper == "+CFUN=?":
            return ["+CFUN: (0,1,4),(0,1)", "OK"]
        level = int(upper.split("=", 1)[1].split(",")[0])
        if level not in (0, 1, 4):
            return [CME_NOT_SUPPORTED]
        self.core.set_functionality(level)
        return ["OK"]

    def _creg(self, upper: str) -> list[str]:
        if upper == "+CREG?":
            status, lac, cell = self.core.registration()
            extra = f',"{lac:04X}","{cell:04X}"' if self.settings.creg == 2 and lac is not None else ""
            return [f"+CREG: {self.settings.creg},{status}{extra}", "OK"]
        if upper == "+CREG=?":
            return ["+CREG: (0-2)", "OK"]
        value = int(upper.split("=", 1)[1])
        if value not in (0, 1, 2):
            return [CME_NOT_SUPPORTED]
        self.settings.creg = value
        return ["OK"]

    def _cops(self, upper: str) -> list[str]:
        core = self.core
        if upper == "+COPS?":
            plmn = core.registered_plmn()
            return [f'+COPS: {core.cops_mode},2,"{plmn}",0' if plmn else f"+COPS: {core.cops_mode}", "OK"]
        if upper == "+COPS=?":
            plmn = core.camped_plmn()
            return [
                f'+COPS: (2,"{plmn}","{plmn}","{plmn}",0),,(0-4),(0-2)' if plmn else "+COPS: ,,(0-4),(0-2)",
                "OK",
            ]
        mode = int(upper.split("=", 1)[1].split(",")[0] or "0")
        if mode == 0:
            core.select_automatic()
        elif mode == 2:
            core.deregister()
        else:
            return [CME_NOT_SUPPORTED]
        return ["OK"]

    # --- SMS ------------------------------------------------------------------------------------
    def _list(self, argument: str) -> list[str]:
        wanted = argument.strip().strip('"').upper()
        lines = []
        for message in self.core.messages():
            status = "REC READ" if message.read else "REC UNREAD"
            if self.settings.text_mode:
                if wanted not in ("ALL", status):
                    continue
                lines += [
                    f"+CMGL: {message.index},{self._text_header(message, status)}",
                    self._text_body(message),
                ]
            else:
                code = STATUS_CODES[status]
                if wanted not in ("4", str(code)):
                    continue
                lines += [f"+CMGL: {message.index},{code},,{len(message.tpdu.raw)}", message.pdu_hex()]
            self.core.mark_read(message.index)
        return [*lines, "OK"]

    def _read(self, index: int) -> list[str]:
        message = self.core.message(index)
        if message is None:
            return [CMS_INVALID_INDEX]
        status = "REC READ" if message.read else "REC UNREAD"
        self.core.mark_read(index)
        if self.settings.text_mode:
            return [f"+CMGR: {self._text_header(message, status)}", self._text_body(message), "OK"]
        return [f"+CMGR: {STATUS_CODES[status]},,{len(message.tpdu.raw)}", message.pdu_hex(), "OK"]

    def _text_header(self, message: StoredMessage, status: str) -> str:
        tpdu = message.tpdu
        sender = ("+" + tpdu.originator) if tpdu.originator.isdigit() else tpdu.originator
        header = f'"{status}","{_quote(sender)}",,"{message.timestamp}"'
        if self.settings.show_header:
            length = len(tpdu.text) if tpdu.text is not None else len(tpdu.user_data)
            header += f',145,{tpdu.raw[0]},{tpdu.pid},{tpdu.dcs},"{self.core.service_centre}",145,{length}'
        return header

    @staticmethod
    def _text_body(message: StoredMessage) -> str:
        tpdu = message.tpdu
        if tpdu.text is not None and tpdu.alphabet == "gsm7":
            return _printable(tpdu.text)
        return (tpdu.udh + tpdu.user_data).hex().upper()  # 8-bit and UCS2 data in hexadecimal


def _quote(text: str) -> str:
    return text.replace('"', "'")


def _printable(text: str) -> str:
    """Text for a line of the AT port: control characters (line ends, Ctrl-Z) become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)[:LINE_LIMIT]
