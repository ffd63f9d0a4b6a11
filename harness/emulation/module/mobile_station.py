"""The emulated module's radio: a GSM mobile station on a cell's virtual radio (GSMTAP).

No software phone is packaged for this machine (osmocom-bb's virtphy/mobile is not), so this is
one, written for the emulated cellular module: idle mode on the BCCH (System Information 3 gives
the cell's location area), location updating with COMP128v1 authentication and cipher mode
negotiation, paging response, and mobile-terminated SMS on SAPI 3 (24.011 CP/RP). Layer 3
is pycrate (harness.cell.l3), layer 2 is harness.emulation.module.datalink.

What a hardened module refuses and a weak one accepts is its `MsPolicy`, set from the
reference image's weakness knobs: an unciphered (A5/0) or unauthenticated network, and an
IDENTITY REQUEST for the IMSI before the network has authenticated and ciphered. A cell the
hardened station refuses is barred (its location area is not tried again until it changes), as
a module with false-base-station detection does. The virtual BTS applies no A5 keystream, so
"ciphered" means the cipher mode the network commanded; frames stay readable as evidence.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from comp128.comp128v1 import Comp128v1

from harness.cell import gsmtap, l3
from harness.cell.virtual_um import UmSocket, VirtualUm
from harness.emulation.module.datalink import DataLink, LinkError
from harness.util.deadlines import Deadline

log = logging.getLogger(__name__)

CELL_LOST_S = 4.0  # no downlink for this long: out of coverage
RACH_ATTEMPTS = 7  # SI3 max retransmissions
RACH_RESPONSE_S = 0.8
STALE_FRAME_S = 1.0  # a downlink frame that waited this long in the socket is history
CATCH_UP_FRAMES = 20_000  # bounded: a radio that floods the socket cannot hold the station here
PROCEDURE_S = 20.0  # the longest one layer-3 procedure may take (the network's timers are ~10-15 s)
RETRY_AFTER_FAILURE_S = 3.0  # T3211 is 15 s; the emulation retries sooner so that tests stay short
NO_KEY = 7  # ciphering key sequence number "no key available"
RA_LOCATION_UPDATE = 0x00  # 0000xxxx with NECI = 1
RA_ANSWER_TO_PAGING = 0x80  # 100xxxxx, any channel
CLASSMARK1 = 0x50  # R99, ES IND, A5/1 available, RF power class 1
CLASSMARK2 = bytes([0x50, 0x18, 0x02])  # as CM1; SS screening 1, MT SMS capable; A5/3 available
EVENT_LIMIT = 2000


@dataclass
class Sim:
    """The emulated SIM: identity, key, and what EF_LOCI keeps across power cycles."""

    imsi: str
    ki: bytes
    tmsi: str | None = None
    lai: tuple[str, int] | None = None  # ("00101", LAC) where the TMSI was allocated
    cksn: int = NO_KEY
    kc: bytes | None = None
    # Location areas where this SIM was authenticated and ciphered: networks that know it, which
    # may have lost its TMSI (a VLR restart) and ask for the IMSI again.
    trusted_areas: set[tuple[str, int]] = field(default_factory=set)


@dataclass(frozen=True)
class MsPolicy:
    """What the module accepts (False everywhere is the hardened module)."""

    accept_unciphered: bool = False  # attach to an A5/0 / unauthenticated network
    imsi_before_authentication: bool = (
        False  # answer IDENTITY REQUEST (IMSI/IMEI) in a new area before ciphering
    )


@dataclass(frozen=True)
class MsEvent:
    when: float
    what: str
    detail: str = ""


@dataclass(frozen=True)
class ReceivedSms:
    """An SMS-DELIVER the station acknowledged, and when."""

    when: float
    tpdu: l3.Tpdu


@dataclass
class _Cell:
    arfcn: int
    mcc_mnc: str
    lac: int
    cell_id: int
    neci: bool
    last_seen: float


@dataclass
class _Connection:
    link: DataLink
    sequence: int = 0
    authenticated: bool = False
    ciphered: bool = False
    cipher: str = "none"
    imsi_sent: bool = False
    refused: str = ""
    received: list[str] = field(default_factory=list)

    def next_sequence(self) -> int:
        value = self.sequence
        self.sequence = (self.sequence + 1) % 4
        return value


class MobileStation:
    """One GSM mobile station; `start()` runs it on its own thread until `stop()`."""

    def __init__(self, radio: VirtualUm, sim: Sim, *, imei: str, policy: MsPolicy,
                 on_sms: Callable[[l3.Tpdu], bool] | None = None, name: str = "ms",
                 on_event: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.radio = radio
        self.sim = sim
        self.imei = imei
        self.policy = policy
        self.on_sms = on_sms or (lambda tpdu: True)
        self.on_event = on_event
        self.name = name
        self.events: list[MsEvent] = []
        self.received_sms: list[ReceivedSms] = []
        self.registered_lai: tuple[str, int] | None = None
        self.status = "idle"  # idle, searching, registered, denied
        self.barred: set[tuple[str, int]] = set()
        self.cell: _Cell | None = None
        self._want_registration = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: UmSocket | None = None
        self._last_failure = 0.0
        self._frame_number = 0
        self._lock = threading.Lock()

    # --- control ------------------------------------------------------------------------------
    @property
    def imeisv(self) -> str:
        return self.imei[:14] + "01"

    def start(self) -> MobileStation:
        if self._thread is None:
            self._socket = UmSocket(self.radio)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"hilsec-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.status = "idle"
        self.registered_lai = None

    def register(self) -> None:
        """Select the network automatically (AT+COPS=0): register wherever the station camps."""
        self._want_registration.set()
        if self.status == "idle":
            self.status = "searching"

    def deregister(self) -> None:
        self._want_registration.clear()
        self.registered_lai = None
        self.status = "idle"

    def _event(self, what: str, detail: str = "") -> None:
        with self._lock:
            self.events.append(MsEvent(time.time(), what, detail))
            del self.events[:-EVENT_LIMIT]
        log.debug("%s: %s %s", self.name, what, detail)
        if self.on_event is not None:
            self.on_event(f"radio: {what}{': ' + detail if detail else ''}")

    # --- the station's loop -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._idle_step()
            except Exception as exc:  # noqa: BLE001 - the radio must not kill the module thread
                log.debug("%s: error", self.name, exc_info=True)
                self._event("error", f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)

    def _idle_step(self) -> None:
        assert self._socket is not None
        frame, _, arrived = self._socket.receive_timed(0.3)
        now = time.monotonic()
        if frame is not None and not frame.uplink:
            self._heard(frame)
        if self.cell is not None and now - self.cell.last_seen > CELL_LOST_S:
            self._event("cell lost", f"LAC {self.cell.lac}: no downlink for {CELL_LOST_S:.0f} s")
            self.cell = None
            if self.status in ("registered", "denied"):
                self.status = "searching"
            self.registered_lai = None
        # A backlog after a stall (a loaded host) is read but not decoded: its paging is stale
        # (the network repeats what is current) and decoding it would keep the station behind.
        if frame is not None and not frame.uplink and time.time() - arrived < STALE_FRAME_S:
            if frame.channel == gsmtap.BCCH and not frame.sacch:
                self._system_information(frame)
            elif frame.channel in (gsmtap.PCH, gsmtap.AGCH, gsmtap.CCCH) and not frame.sacch:
                self._paging(frame.payload)
        if self._want_registration.is_set() and self.cell is not None:
            lai = (self.cell.mcc_mnc, self.cell.lac)
            if lai in self.barred:
                self.status = "denied"
            elif self.registered_lai != lai and now - self._last_failure > RETRY_AFTER_FAILURE_S:
                self._location_update()

    def _heard(self, frame: gsmtap.GsmtapFrame) -> None:
        """A downlink frame: the radio's clock, and the serving cell still in coverage."""
        self._frame_number = frame.frame_number
        if self.cell is not None and frame.arfcn == self.cell.arfcn:
            self.cell.last_seen = time.monotonic()

    def _catch_up(self) -> None:
        """Read what is queued, so that a RACH carries the radio's current frame number."""
        assert self._socket is not None
        for _ in range(CATCH_UP_FRAMES):
            frame, _ = self._socket.receive(0)
            if frame is None:
                return
            if not frame.uplink:
                self._heard(frame)

    def _system_information(self, frame: gsmtap.GsmtapFrame) -> None:
        if l3.common_channel_type(frame.payload) != l3.SYSTEM_INFORMATION_3:
            return
        message = l3.decode_common(frame.payload)
        if message is None:
            return
        area = l3.location_area(message)
        if area is None:
            return
        mcc_mnc, lac = area
        cell_id = int(message.field("CellId", 0) or 0)
        neci = bool(message.field("NECI", 1))
        if self.cell is None or (self.cell.mcc_mnc, self.cell.lac, self.cell.arfcn) != (
            mcc_mnc,
            lac,
            frame.arfcn,
        ):
            self._event("camped", f"ARFCN {frame.arfcn}, {mcc_mnc} LAC {lac} cell {cell_id}")
            if self.registered_lai is not None and self.registered_lai != (mcc_mnc, lac):
                self.registered_lai = None
                if self.status == "registered":
                    self.status = "searching"
        self.cell = _Cell(frame.arfcn, mcc_mnc, lac, cell_id, neci, time.monotonic())

    # --- access -------------------------------------------------------------------------------
    def _access(self, establishment: int) -> DataLink | None:
        """RACH until an IMMEDIATE ASSIGNMENT for this station arrives; its dedicated channel."""
        assert self._socket is not None and self.cell is not None
        for _ in range(RACH_ATTEMPTS):
            self._catch_up()
            ra = establishment | random.randrange(0x20 if establishment == RA_ANSWER_TO_PAGING else 0x10)
            fn = self._frame_number
            self._socket.send_uplink(
                gsmtap.GsmtapFrame(
                    self.cell.arfcn, True, 0, gsmtap.RACH, False, 0, fn, gsmtap.BEST_SIGNAL_DBM, bytes([ra])
                )  # fmt: skip
            )
            reference = gsmtap.request_reference(fn)
            deadline = Deadline.after(RACH_RESPONSE_S)
            while not deadline.expired:
                frame, _ = self._socket.receive(deadline.remaining())
                if frame is None or frame.uplink:
                    continue
                self._heard(frame)
                if frame.channel not in (gsmtap.PCH, gsmtap.AGCH, gsmtap.CCCH) or frame.sacch:
                    continue
                kind = l3.common_channel_type(frame.payload)
                if kind not in (l3.IMMEDIATE_ASSIGNMENT, l3.IMMEDIATE_ASSIGNMENT_REJECT):
                    continue
                message = l3.decode_common(frame.payload)
                if message is None:
                    continue
                if message.name == "IMMEDIATE ASSIGNMENT REJECT":
                    self._event("access rejected", "IMMEDIATE ASSIGNMENT REJECT")
                    return None
                if message.name != "IMMEDIATE ASSIGNMENT" or message.field("RA") != ra:
                    continue
                if (message.field("T1prime"), message.field("T3"), message.field("T2")) != reference:
                    continue
                return self._assigned(message)
            time.sleep(random.uniform(0.02, 0.1))
        self._event("access failed", f"no IMMEDIATE ASSIGNMENT after {RACH_ATTEMPTS} RACH bursts")
        return None

    def _assigned(self, message: l3.Message) -> DataLink | None:
        assert self._socket is not None and self.cell is not None
        kind, timeslot = int(message.field("ChanType")), int(message.field("TN"))
        if kind & 0x1C == 0x04:  # 001xx: SDCCH/4 subchannel xx
            channel, subslot = gsmtap.SDCCH4, kind & 0x03
        elif kind & 0x18 == 0x08:  # 01xxx: SDCCH/8 subchannel xxx
            channel, subslot = gsmtap.SDCCH8, kind & 0x07
        else:
            self._event("assignment not supported", f"channel type {kind} (this station uses SDCCH only)")
            return None
        return DataLink(self._socket, arfcn=self.cell.arfcn, timeslot=timeslot, channel=channel,
                        subslot=subslot, frame_number=self._frame_number)  # fmt: skip

    def _identity(self) -> tuple[int, str]:
        """The identity to present: the TMSI where it is valid (any LAI: the network may ask), else the IMSI."""
        if self.sim.tmsi is not None:
            return l3.TMSI, self.sim.tmsi
        return l3.IMSI, self.sim.imsi

    # --- location updating --------------------------------------------------------------------
    def _location_update(self) -> None:
        assert self.cell is not None
        lai = (self.cell.mcc_mnc, self.cell.lac)
        kind, value = self._identity()
        stored = self.sim.lai or (self.cell.mcc_mnc, 0xFFFE)  # "deleted" LAI when none is stored
        update_type = 2 if self.sim.lai == lai and self.sim.tmsi else 0  # IMSI attach / normal
        self._event("location updating", f"LAC {self.cell.lac} with {l3.IDENTITY_NAMES[kind]}")
        link = self._access(RA_LOCATION_UPDATE)
        if link is None:
            self._last_failure = time.monotonic()
            return
        conn = _Connection(link)
        conn.imsi_sent = kind == l3.IMSI
        request = l3.location_updating_request(
            sequence=conn.next_sequence(), cksn=self.sim.cksn, update_type=update_type,
            mcc_mnc=stored[0], lac=stored[1], classmark1=CLASSMARK1, kind=kind, value=value,
        )  # fmt: skip
        outcome = "no answer"
        try:
            link.establish(request)
            outcome = self._dedicated(conn, until=("LOCATION UPDATING ACCEPT", "LOCATION UPDATING REJECT"))
        except LinkError as err:
            outcome = f"link failure: {err}"
        finally:
            self._finish(conn)
        if outcome == "LOCATION UPDATING ACCEPT" and not conn.refused:
            self.registered_lai = lai
            self.status = "registered"
            if conn.authenticated and conn.ciphered:
                self.sim.trusted_areas.add(lai)
            self._event("registered", f"{lai[0]} LAC {lai[1]}, cipher {conn.cipher}")
            return
        if conn.refused:
            self.barred.add(lai)
            self.status = "denied"
            self._event("cell barred", f"{lai[0]} LAC {lai[1]}: {conn.refused}")
            return
        self._last_failure = time.monotonic()
        if outcome == "LOCATION UPDATING REJECT":
            self.status = "denied"
        self._event("location updating failed", outcome)

    def _dedicated(self, conn: _Connection, until: tuple[str, ...]) -> str:
        """Serve the network's messages until one named in `until` (or CHANNEL RELEASE) arrives."""
        deadline = Deadline.after(PROCEDURE_S)
        result = "no answer"
        while not deadline.expired:
            received = conn.link.receive(deadline.remaining())
            if received is None:
                break
            sapi, octets = received
            message = l3.decode(octets, uplink=False)
            if message is None:
                self._event("undecodable", octets.hex())
                continue
            conn.received.append(message.name)
            if message.name == "CHANNEL RELEASE":
                return result
            handled = self._serve(conn, sapi, message)
            if conn.refused:
                return result  # leave the channel at once: nothing more goes to this network
            if message.name in until:
                result = message.name
                if handled == "done":
                    # Wait for the release: the network may still send MM INFORMATION etc.
                    until = ()
        return result

    def _serve(self, conn: _Connection, sapi: int, message: l3.Message) -> str:
        name = message.name
        if name == "AUTHENTICATION REQUEST":
            raw = message.raw  # 05 12 | spare, CKSN | RAND (16) [| AUTN]
            if len(raw) < 19:
                return "handled"
            sres, kc = Comp128v1().comp128v1(bytearray(self.sim.ki), bytearray(raw[3:19]))
            self.sim.kc, self.sim.cksn = bytes(kc), raw[2] & 0x07
            conn.authenticated = True
            conn.link.send(l3.authentication_response(sequence=conn.next_sequence(), sres=bytes(sres)))
            self._event("authenticated", f"COMP128v1, CKSN {self.sim.cksn}")
        elif name == "AUTHENTICATION REJECT":
            self.sim.tmsi, self.sim.lai, self.sim.cksn = None, None, NO_KEY
            conn.refused = conn.refused or "the network rejected the authentication"
        elif name == "CIPHERING MODE COMMAND":
            setting = message.raw[2] if len(message.raw) > 2 else 0
            start, algorithm, with_imeisv = setting & 0x01, (setting >> 1) & 0x07, bool(setting & 0x10)
            conn.ciphered = bool(start) and algorithm in (0, 2)  # A5/1, A5/3
            conn.cipher = f"A5/{algorithm + 1}" if start else "A5/0"
            self._event("cipher mode command", conn.cipher)
            conn.link.send(l3.ciphering_mode_complete(self.imeisv if with_imeisv else None))
        elif name == "IDENTITY REQUEST":
            self._identity_request(conn, message.raw[2] & 0x07 if len(message.raw) > 2 else l3.IMSI)
        elif name == "LOCATION UPDATING ACCEPT":
            return self._accepted(conn, message)
        elif name == "LOCATION UPDATING REJECT":
            cause = message.raw[2] if len(message.raw) > 2 else 0
            self._event("location updating reject", f"cause {cause}")
            if cause in (2, 3, 6):  # IMSI unknown in HLR, illegal MS, illegal ME: SIM invalid
                self.sim.tmsi, self.sim.lai = None, None
            return "done"
        elif name == "TMSI REALLOCATION COMMAND":
            new = l3.message_identity(message)
            if new and new[0] == "TMSI" and not conn.refused:
                self.sim.tmsi = new[1]
                conn.link.send(l3.tmsi_reallocation_complete(sequence=conn.next_sequence()))
        elif name == "CLASSMARK ENQUIRY":
            conn.link.send(bytes([0x06, 0x16, len(CLASSMARK2)]) + CLASSMARK2)
        elif name == "CP-DATA" or (message.protocol == "SMS" and "DATA" in name):
            self._sms(conn, sapi, message)
        return "handled"

    def _identity_request(self, conn: _Connection, kind: int) -> None:
        what = l3.IDENTITY_NAMES.get(kind, str(kind))
        # Answered without ciphering only where nothing new is given away (the IMSI already went
        # in this connection) or in a location area where this SIM was authenticated and ciphered
        # before: that network may have lost the TMSI (a VLR restart). A new location area that
        # asks first is the IMSI catcher's move.
        known = self.cell is not None and (self.cell.mcc_mnc, self.cell.lac) in self.sim.trusted_areas
        protected = conn.ciphered or (kind == l3.IMSI and conn.imsi_sent) or known
        if not protected and not self.policy.imsi_before_authentication:
            conn.refused = f"IDENTITY REQUEST for the {what} before the network authenticated and ciphered"
            self._event("identity request refused", what)
            return
        value = {l3.IMSI: self.sim.imsi, l3.IMEI: self.imei, l3.IMEISV: self.imeisv}.get(kind)
        if kind == l3.TMSI:
            value = self.sim.tmsi
        if value is None:
            return
        if kind == l3.IMSI:
            conn.imsi_sent = True
        self._event("identity response", f"{what}{'' if protected else ' (before authentication)'}")
        conn.link.send(l3.identity_response(sequence=conn.next_sequence(), kind=kind, value=value))

    def _accepted(self, conn: _Connection, message: l3.Message) -> str:
        if not conn.ciphered and not self.policy.accept_unciphered:
            what = "without authentication" if not conn.authenticated else "without starting ciphering"
            conn.refused = conn.refused or f"LOCATION UPDATING ACCEPT {what} ({conn.cipher})"
            self._event("unciphered network refused", conn.refused)
            return "done"
        if conn.refused:
            return "done"
        area = l3.location_area(message)
        self.sim.lai = area or ((self.cell.mcc_mnc, self.cell.lac) if self.cell else None)
        new = l3.message_identity(message)
        if new and new[0] == "TMSI":
            self.sim.tmsi = new[1]
            conn.link.send(l3.tmsi_reallocation_complete(sequence=conn.next_sequence()))
        elif new and new[0] == "IMSI":
            self.sim.tmsi = None
        return "done"

    # --- paging and SMS -----------------------------------------------------------------------
    def _paging(self, payload: bytes) -> None:
        if self.status != "registered" or self.cell is None:
            return
        if (self.cell.mcc_mnc, self.cell.lac) != self.registered_lai:
            return
        if l3.common_channel_type(payload) not in l3.PAGING_REQUESTS:
            return
        message = l3.decode_common(payload)
        if message is None or not message.name.startswith("PAGING REQUEST"):
            return
        mine = False
        for name in ("ID1", "ID2", "ID3", "ID4"):
            ie = message.field(name)
            if ie is None:
                continue
            found = None
            for element in l3.walk(ie):
                if isinstance(element, l3.IE.ID):
                    found = l3.identity(element.to_bytes())
                    break
            if found is None:
                octets = ie.to_bytes()[-4:]
                found = ("TMSI", octets.hex()) if len(octets) == 4 else None
            if found in (("TMSI", self.sim.tmsi), ("IMSI", self.sim.imsi)):
                mine = True
        if mine:
            self._answer_paging()

    def _answer_paging(self) -> None:
        self._event("paged")
        link = self._access(RA_ANSWER_TO_PAGING)
        if link is None:
            return
        conn = _Connection(link)
        kind, value = self._identity()
        conn.imsi_sent = kind == l3.IMSI
        response = l3.paging_response(cksn=self.sim.cksn, classmark2=CLASSMARK2, kind=kind, value=value)
        try:
            link.establish(response)
            self._dedicated(conn, until=())
        except LinkError as err:
            self._event("link failure", str(err))
        finally:
            self._finish(conn)
        if conn.refused and self.cell is not None:
            lai = (self.cell.mcc_mnc, self.cell.lac)
            self.barred.add(lai)
            self.registered_lai = None
            self.status = "denied"
            self._event("cell barred", f"{lai[0]} LAC {lai[1]}: {conn.refused}")

    def _sms(self, conn: _Connection, sapi: int, message: l3.Message) -> None:
        raw = message.raw
        if len(raw) < 3 or raw[1] != 0x01:
            return
        transaction = (raw[0] >> 4) & 0x07
        conn.link.send(l3.cp_ack(transaction), sapi)
        rp = l3.rp_data(raw[3 : 3 + raw[2]])
        if rp is None:
            conn.link.send(l3.cp_data(transaction, l3.rp_error(0, 111)), sapi)
            return
        tpdu = l3.sms_deliver(rp.tpdu)
        if tpdu is None:
            conn.link.send(l3.cp_data(transaction, l3.rp_error(rp.reference, 111)), sapi)
            self._event("sms undecodable", rp.tpdu.hex())
            return
        accepted = True
        try:
            accepted = bool(self.on_sms(tpdu))
        except Exception as exc:  # noqa: BLE001 - the module's storage must not break the radio
            self._event("sms handler failed", f"{type(exc).__name__}: {exc}")
        self.received_sms.append(ReceivedSms(time.time(), tpdu))
        del self.received_sms[:-EVENT_LIMIT]
        reply = l3.rp_ack(rp.reference) if accepted else l3.rp_error(rp.reference, 22)
        conn.link.send(l3.cp_data(transaction, reply), sapi)
        self._event("sms received", f"from {tpdu.originator} PID 0x{tpdu.pid:02x} DCS 0x{tpdu.dcs:02x}"
                                    f"{' UDH' if tpdu.udhi else ''}, {'RP-ACK' if accepted else 'RP-ERROR'}")  # fmt: skip

    def _finish(self, conn: _Connection) -> None:
        conn.link.release()
        if self.cell is not None:
            self.cell.last_seen = time.monotonic()  # the BCCH was not read while on the SDCCH

    # --- power --------------------------------------------------------------------------------
    def detach(self) -> None:
        """IMSI DETACH INDICATION (AT+CFUN=0, power off) when registered; best effort."""
        if self.status != "registered" or self.sim.tmsi is None:
            return
        # A detach needs the radio thread; a powered-off module simply stops, as a real one may.
        self.deregister()
