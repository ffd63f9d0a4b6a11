"""The emulated cellular module: SIM, radio (a MobileStation), SMS store and AT ports.

`ModuleCore` is what every AT port of the module shares: registration, functionality, the SMS
store (ME memory), and the routing of incoming SMS. `GuestPort` serves the guest's ttyS1 over
QEMU's chardev socket (connected while the machine runs: the module powers up with the board
and loses its radio state, not its SIM, when the board powers off); `lab_stream()` opens a
further AT channel for the lab, as a module's second USB AT interface would be.

Incoming SMS (23.038 / 23.040): a type-0 short message (PID 0x40) is acknowledged and discarded;
a class-0 message has no display to go to and is dropped; SIM data download (PID 0x7F) goes to
the SIM, which has no OTA applet and discards it. Everything else is stored and announced with
+CMTI. `class0_silent_to_application` (a weakness knob) stores class 0 and type 0 like the rest.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.cell import l3
from harness.cell.virtual_um import VirtualUm
from harness.emulation.module.at_interpreter import AtChannel
from harness.emulation.module.mobile_station import MobileStation, MsPolicy, Sim
from harness.transports.socket import SocketStream

log = logging.getLogger(__name__)

STORE_CAPACITY = 20
CONNECT_RETRY_S = 0.2
STATUS_POLL_S = 0.5
READ_CHUNK = 4096
LOG_LIMIT = 4000
SERVICE_CENTRE = "+491700000000"
REGISTRATION_CODES = {"idle": 0, "searching": 2, "registered": 1, "denied": 3}


@dataclass
class StoredMessage:
    index: int
    tpdu: l3.Tpdu
    read: bool
    timestamp: str

    def pdu_hex(self) -> str:
        sca = "0791947100000000"  # the service centre address: 7 octets, international, +491700000000
        return (sca + self.tpdu.raw.hex()).upper()


@dataclass(frozen=True)
class ModulePolicy:
    radio: MsPolicy = MsPolicy()
    class0_silent_to_application: bool = False


class ModuleCore:
    """The module's state behind all of its AT ports."""

    manufacturer = "hilsec"
    model = "HS-GSM-EMU (an emulated GSM module, not a modem)"
    revision = "hilsec-emulated-gsm 1.0"
    capacity = STORE_CAPACITY
    service_centre = SERVICE_CENTRE

    def __init__(self, sim: Sim, imei: str, policy: ModulePolicy, radio: VirtualUm | None,
                 log_path: Path | None = None) -> None:  # fmt: skip
        self.sim = sim
        self.imei = imei
        self.policy = policy
        self.radio = radio
        self.functionality = 1
        self.cops_mode = 2  # deregistered until the host selects a network (AT+COPS=0)
        self.station: MobileStation | None = None
        self.channels: list[AtChannel] = []
        self.log: list[str] = []
        self.log_path = log_path
        self._messages: dict[int, StoredMessage] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._last_status: int | None = None

    # --- power and registration ---------------------------------------------------------------
    def power_on(self) -> None:
        """The module gets power: a fresh radio (the SIM keeps its TMSI and location area)."""
        with self._lock:
            self.functionality, self.cops_mode = 1, 2
            if self.radio is not None and self.station is None:
                self.station = MobileStation(self.radio, self.sim, imei=self.imei, policy=self.policy.radio,
                                             on_sms=self._incoming, name="emulated-module",
                                             on_event=self._note)  # fmt: skip
                self.station.start()
        self._note("power on" + ("" if self.radio else ": no virtual radio, so no coverage"))
        if self._watcher is None:
            self._stop.clear()
            self._watcher = threading.Thread(
                target=self._watch_registration, name="hilsec-module-creg", daemon=True
            )
            self._watcher.start()

    def power_off(self) -> None:
        with self._lock:
            station, self.station = self.station, None
        if station is not None:
            station.stop()
        self._note("power off")

    def stop(self) -> None:
        self._stop.set()
        self.power_off()
        if self._watcher is not None:
            self._watcher.join(2)
            self._watcher = None

    def select_automatic(self) -> None:
        self.cops_mode = 0
        if self.station is not None and self.functionality == 1:
            self.station.register()
        self._note("automatic network selection (AT+COPS=0)")

    def deregister(self) -> None:
        self.cops_mode = 2
        if self.station is not None:
            self.station.deregister()
        self._note("deregistered (AT+COPS=2)")

    def set_functionality(self, level: int) -> None:
        self.functionality = level
        if level != 1 and self.station is not None:
            self.station.deregister()
        elif level == 1 and self.cops_mode == 0 and self.station is not None:
            self.station.register()
        self._note(f"AT+CFUN={level}")

    @property
    def camped(self) -> bool:
        return self.station is not None and self.station.cell is not None and self.functionality == 1

    def camped_plmn(self) -> str:
        return self.station.cell.mcc_mnc if self.camped and self.station and self.station.cell else ""

    def registered_plmn(self) -> str:
        station = self.station
        if station is None or station.status != "registered" or station.registered_lai is None:
            return ""
        return station.registered_lai[0]

    def registration(self) -> tuple[int, int | None, int | None]:
        """(+CREG <stat>, LAC, cell id)."""
        station = self.station
        if station is None or self.functionality != 1:
            return 0, None, None
        if self.cops_mode != 0:
            return 0, None, None
        status = REGISTRATION_CODES.get(station.status, 4)
        cell = station.cell
        return status, (cell.lac if cell else None), (cell.cell_id if cell else None)

    def _watch_registration(self) -> None:
        while not self._stop.wait(STATUS_POLL_S):
            status, lac, cell = self.registration()
            if status == self._last_status:
                continue
            self._last_status = status
            self._note(f"registration status {status}")
            for channel in list(self.channels):
                if channel.settings.creg == 1:
                    channel.unsolicited(f"+CREG: {status}")
                elif channel.settings.creg == 2:
                    where = f',"{lac:04X}","{cell:04X}"' if lac is not None and cell is not None else ""
                    channel.unsolicited(f"+CREG: {status}{where}")

    # --- SMS ------------------------------------------------------------------------------------
    def _incoming(self, tpdu: l3.Tpdu) -> bool:
        """The radio received an SMS-DELIVER: True to acknowledge it (RP-ACK), False for RP-ERROR."""
        label = f"from {tpdu.originator} PID 0x{tpdu.pid:02x} DCS 0x{tpdu.dcs:02x}"
        to_application = self.policy.class0_silent_to_application
        if tpdu.silent and not to_application:
            self._note(f"type-0 SMS {label}: acknowledged and discarded (23.040 9.2.3.9)")
            return True
        if tpdu.message_class == 0 and not to_application:
            self._note(f"class-0 SMS {label}: no display, dropped")
            return True
        if tpdu.pid == 0x7F:
            self._note(f"SIM data download {label}: the emulated SIM has no OTA applet, discarded")
            return True
        with self._lock:
            if len(self._messages) >= self.capacity:
                self._note(f"SMS {label}: memory full, RP-ERROR")
                return False
            index = next(i for i in range(self.capacity) if i not in self._messages)
            stamp = time.strftime("%y/%m/%d,%H:%M:%S+00", time.gmtime())
            self._messages[index] = StoredMessage(index, tpdu, False, stamp)
        self._note(f"SMS {label}: stored at {index}")
        for channel in list(self.channels):
            if channel.settings.new_message_mode in (1, 2, 3):
                channel.unsolicited(f'+CMTI: "ME",{index}')
        return True

    def messages(self) -> list[StoredMessage]:
        with self._lock:
            return [self._messages[i] for i in sorted(self._messages)]

    def message(self, index: int) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(index)

    def mark_read(self, index: int) -> None:
        with self._lock:
            if index in self._messages:
                self._messages[index].read = True

    def delete(self, index: int) -> bool:
        with self._lock:
            return self._messages.pop(index, None) is not None

    def delete_all(self) -> None:
        with self._lock:
            self._messages.clear()

    def _note(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S', time.gmtime())} {text}"
        with self._lock:
            self.log.append(line)
            del self.log[:-LOG_LIMIT]
            if self.log_path is not None:
                try:
                    with self.log_path.open("a") as handle:
                        handle.write(line + "\n")
                except OSError:
                    pass
        log.debug("module: %s", text)


class GuestPort:
    """The module's AT port on the guest's ttyS1: QEMU's chardev socket, reconnected per boot."""

    def __init__(self, core: ModuleCore, socket_path: Path) -> None:
        self.core = core
        self.socket_path = socket_path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, name="hilsec-module-ttyS1", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3)
            self._thread = None

    def _serve(self) -> None:
        while not self._stop.is_set():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket_path))
            except OSError:
                sock.close()
                self._stop.wait(CONNECT_RETRY_S)
                continue
            self.connections += 1
            self.core.power_on()
            try:
                _serve_channel(self.core, sock, "ttyS1", self._stop)
            finally:
                sock.close()
                self.core.power_off()


def _serve_channel(core: ModuleCore, sock: socket.socket, name: str, stop: threading.Event) -> None:
    """Interpret AT commands from `sock` until it closes or `stop` is set."""
    sock.settimeout(0.5)
    lock = threading.Lock()

    def write(data: bytes) -> None:
        with lock:
            try:
                sock.sendall(data)
            except OSError:
                pass

    channel = AtChannel(core, write, name)
    core.channels.append(channel)
    try:
        while not stop.is_set():
            try:
                data = sock.recv(READ_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            channel.feed(data)
    finally:
        core.channels.remove(channel)


class LabChannels:
    """Further AT channels for the lab (each `open()` a new one, served on its own thread)."""

    def __init__(self, core: ModuleCore) -> None:
        self.core = core
        self._stop = threading.Event()

    def open(self) -> SocketStream:
        ours, theirs = socket.socketpair()
        threading.Thread(target=_serve_channel, args=(self.core, ours, "lab", self._stop), daemon=True,
                         name="hilsec-module-lab-at").start()  # fmt: skip
        return SocketStream.from_socket(theirs, "the emulated cellular module's lab AT channel")

    def stop(self) -> None:
        self._stop.set()
