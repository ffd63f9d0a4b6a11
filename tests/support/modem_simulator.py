"""ModemSimulator: a stand-in that answers AT commands like a SIMCom/Quectel LTE-M module.

It is NOT a modem and has no radio: it exists so the AT driver and the configuration checks run
end to end on a pty. Its one knob, `gsm_fallback_enabled`, decides whether 2G is allowed.
"""

from __future__ import annotations

import os
import threading


class ModemSimulator:
    """Answers AT commands on the master side of a pty; `device_path` is the modem's tty."""

    def __init__(self, *, gsm_fallback_enabled: bool = False) -> None:
        self.gsm_fallback_enabled = gsm_fallback_enabled
        self._master, slave = os.openpty()
        self.device_path = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> ModemSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        os.close(self._slave)
        self._thread.join(timeout=2)
        os.close(self._master)

    def answer(self, command: str) -> list[str]:
        upper = command.strip().upper()
        if upper == "AT":
            return ["OK"]
        if upper == "AT+CNMP?":  # SIMCom preferred mode: 2 automatic (GSM allowed), 38 LTE only
            return [f"+CNMP: {2 if self.gsm_fallback_enabled else 38}", "OK"]
        if upper == 'AT+QCFG="NWSCANMODE"':  # Quectel: 0 automatic, 3 LTE only
            return [f'+QCFG: "nwscanmode",{0 if self.gsm_fallback_enabled else 3}', "OK"]
        if upper == "AT+CGMI":
            return ["hilsec ModemSimulator (not a modem)", "OK"]
        return ["+CME ERROR: operation not supported"]

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                data = os.read(self._master, 1024)
            except OSError:
                return
            buffer += data
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                command = line.decode(errors="replace").strip()
                if command:
                    reply = "".join(f"\r\n{text}\r\n" for text in self.answer(command))
                    os.write(self._master, reply.encode())
