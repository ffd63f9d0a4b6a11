"""The cell's radio-side evidence: every GSMTAP frame of a virtual radio, written as pcap, and the
layer-3 events decoded from it (what the network saw: location updates, identity requests and
responses, authentication, cipher mode, paging, SMS and their acknowledgements).

It listens passively on both multicast groups. Per dedicated channel it follows LAPDm as a
third party would (I frames in N(S) order, segments joined by the M bit, retransmissions
dropped), so an event means the message really went over the air. The virtual BTS applies no
A5 keystream, so ciphered connections stay readable; a real radio's capture would not be.
Bounded: the pcap stops growing at PCAP_LIMIT, the event list keeps the newest EVENT_LIMIT.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.cell import gsmtap, l3, lapdm
from harness.cell.model import CIPHER_NAMES, CellEvent
from harness.cell.virtual_um import UmSocket, VirtualUm
from harness.util.deadlines import wait_until

PCAP_LIMIT = 64 * 1024 * 1024
EVENT_LIMIT = 5000
LINKTYPE_IPV4 = 228
MESSAGE_LIMIT = 251
SABM_REPEAT_S = 2.5  # a SABM repeated within this (T200 retransmissions) is the same connection
CATCH_UP_POLL_S = 0.01
_DEDICATED = (gsmtap.SDCCH, gsmtap.SDCCH4, gsmtap.SDCCH8, gsmtap.TCH_F)


@dataclass
class _Link:
    expected: int = 0
    segments: list[bytes] = field(default_factory=list)


class PcapWriter:
    """GSMTAP frames as IPv4/UDP datagrams to port 4729, which Wireshark decodes as GSMTAP."""

    def __init__(self, path: Path, limit: int = PCAP_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.truncated = False
        self._file = path.open("wb")
        self._file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_IPV4))
        self._written = 24

    def write(self, datagram: bytes, uplink: bool, when: float) -> None:
        if self._written > self.limit:
            self.truncated = True
            return
        source, destination = (b"\x7f\x00\x00\x02", b"\x7f\x00\x00\x01") if uplink else (
            b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x02")  # fmt: skip
        udp = struct.pack("!HHHH", gsmtap.PORT, gsmtap.PORT, 8 + len(datagram), 0) + datagram
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, source, destination)
        packet = header + udp
        seconds = int(when)
        self._file.write(struct.pack("<IIII", seconds, int((when - seconds) * 1e6), len(packet), len(packet)))
        self._file.write(packet)
        self._written += 16 + len(packet)

    def flush(self) -> None:
        try:
            self._file.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self._file.close()


class RadioMonitor:
    """Listens to a virtual radio on its own thread; `events()` is what it decoded so far."""

    def __init__(self, radio: VirtualUm, pcap_path: Path) -> None:
        self.radio = radio
        self.pcap_path = pcap_path
        self._events: list[CellEvent] = []
        self._lock = threading.Lock()
        self._links: dict[tuple, _Link] = {}
        self._connections: dict[tuple, int] = {}
        self._next_connection = 1
        self._opened: dict[tuple, tuple[bytes, float]] = {}  # channel -> (initial message, when)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: UmSocket | None = None
        self._writer: PcapWriter | None = None
        self._last_paging: dict[str, float] = {}
        self.frames = 0
        # Arrival time of the last frame handled (or when the socket was last found empty): every
        # frame that arrived before it is in the events.
        self._handled_until = 0.0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._socket = UmSocket(self.radio, groups=(self.radio.downlink_group, self.radio.uplink_group))
        self._writer = PcapWriter(self.pcap_path)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hilsec-radio-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def flush(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.flush()

    @property
    def truncated(self) -> bool:
        return bool(self._writer and self._writer.truncated)

    def caught_up(self, until: float, timeout: float) -> bool:
        """Wait until every frame that arrived before `until` (time.time()) is decoded, at most
        `timeout` s; False if the monitor did not get there (stopped, or far behind)."""
        return wait_until(lambda: self._handled_until >= until, timeout, CATCH_UP_POLL_S)

    def events(self, since: float | None = None) -> list[CellEvent]:
        with self._lock:
            return [e for e in self._events if since is None or e.when >= since]

    def note(self, kind: str, detail: str = "") -> None:
        """An event of the network itself (a reconfiguration), in the same timeline."""
        self._add(CellEvent(time.time(), kind, "network", 0, "", detail))

    def _add(self, event: CellEvent) -> None:
        with self._lock:
            self._events.append(event)
            del self._events[:-EVENT_LIMIT]

    # --- decoding -----------------------------------------------------------------------------
    def _run(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            frame, datagram, now = self._socket.receive_timed(0.5)
            if frame is not None:
                self._decode(frame, datagram, now)
            self._handled_until = now  # a timeout's `now` is when the socket was found empty

    def _decode(self, frame: gsmtap.GsmtapFrame, datagram: bytes, now: float) -> None:
        self.frames += 1
        if self._writer is not None:
            self._writer.write(datagram, frame.uplink, now)
        try:
            self.handle(frame, now)
        except Exception as exc:  # noqa: BLE001 - a strange frame must not stop the evidence
            self._add(CellEvent(now, "undecodable", "uplink" if frame.uplink else "downlink", 0, "",
                                f"{type(exc).__name__} on {frame.channel_name}"))  # fmt: skip

    def handle(self, frame: gsmtap.GsmtapFrame, now: float) -> None:
        """Decode one frame (public for tests that feed recorded frames)."""
        direction = "uplink" if frame.uplink else "downlink"
        if frame.channel in (gsmtap.PCH, gsmtap.AGCH, gsmtap.CCCH) and not frame.uplink:
            self._common_control(frame.payload, now)
            return
        if frame.channel not in _DEDICATED or frame.sacch:
            return
        parsed = lapdm.parse(frame.payload)
        if parsed is None:
            return
        channel = (frame.timeslot, frame.channel, frame.subslot)
        if parsed.kind == "U" and parsed.command == lapdm.SABM and frame.uplink and parsed.sapi == 0:
            previous = self._opened.get(channel)
            if previous is not None and previous[0] == parsed.info and now - previous[1] < SABM_REPEAT_S:
                self._opened[channel] = (parsed.info, now)
                return  # the station repeated its SABM (no UA yet): the same connection
            self._opened[channel] = (parsed.info, now)
            self._connections[channel] = self._next_connection
            self._next_connection += 1
            for key in [k for k in self._links if k[0] == channel]:
                del self._links[key]
            if parsed.info:
                self._message(parsed.info, frame.uplink, channel, now)
            return
        if parsed.kind == "U" and parsed.command == lapdm.SABM:
            self._links.pop((channel, direction, parsed.sapi), None)
            return
        if parsed.kind != "I":
            return
        link = self._links.setdefault((channel, direction, parsed.sapi), _Link())
        if parsed.ns != link.expected:
            return  # a retransmission, or we joined mid-stream
        link.expected = (link.expected + 1) % 8
        link.segments.append(parsed.info)
        if parsed.more:
            if sum(len(s) for s in link.segments) > MESSAGE_LIMIT:
                link.segments = []
            return
        message, link.segments = b"".join(link.segments), []
        self._message(message, frame.uplink, channel, now)

    def _common_control(self, payload: bytes, now: float) -> None:
        if l3.common_channel_type(payload) not in l3.PAGING_REQUESTS:
            return
        message = l3.decode_common(payload)
        if message is None:
            return
        for name in ("ID1", "ID2", "ID3", "ID4"):
            ie = message.field(name)
            if ie is None:
                continue
            found = next((l3.identity(e.to_bytes()) for e in l3.walk(ie) if isinstance(e, l3.IE.ID)), None)
            if found is None:
                octets = ie.to_bytes()[-4:]
                found = ("TMSI", octets.hex()) if len(octets) == 4 else None
            if found is None or found[0] == "No identity":
                continue
            key = " ".join(found)
            if now - self._last_paging.get(key, 0.0) < 1.0:
                continue  # the BTS repeats a paging request in every paging block
            self._last_paging[key] = now
            self._add(CellEvent(now, "paging", "downlink", 0, key, message.name))

    def _message(self, octets: bytes, uplink: bool, channel: tuple, now: float) -> None:
        direction = "uplink" if uplink else "downlink"
        connection = self._connections.get(channel, 0)
        message = l3.decode(octets, uplink=uplink)
        if message is None:
            self._add(CellEvent(now, "undecodable", direction, connection, "", octets[:32].hex()))
            return
        if message.name == "CHANNEL RELEASE":
            self._opened.pop(channel, None)
        identity = l3.message_identity(message)
        ident = " ".join(identity) if identity else ""
        kind, detail = _describe(message, octets)
        self._add(CellEvent(now, kind, direction, connection, ident, detail))


def _describe(message: l3.Message, octets: bytes) -> tuple[str, str]:
    """(event kind, detail) of one message."""
    name = message.name
    kind = name.lower().replace(" ", "-")
    if name == "CIPHERING MODE COMMAND":
        setting = octets[2] if len(octets) > 2 else 0
        algorithm = ((setting >> 1) & 0x07) + 1 if setting & 0x01 else 0
        return kind, CIPHER_NAMES.get(algorithm, f"A5/{algorithm}") + (
            ", IMEISV requested" if setting & 0x10 else ""
        )
    if name == "IDENTITY REQUEST":
        requested = octets[2] & 0x07 if len(octets) > 2 else 0
        return kind, l3.IDENTITY_NAMES.get(requested, str(requested))
    if name == "AUTHENTICATION REQUEST":
        return kind, f"CKSN {octets[2] & 0x07}" if len(octets) > 2 else ""
    if name in ("LOCATION UPDATING REJECT", "CM SERVICE REJECT") and len(octets) > 2:
        return kind, f"cause {octets[2]}"
    if name == "LOCATION UPDATING REQUEST" and len(octets) > 2:
        types = {0: "normal", 1: "periodic", 2: "IMSI attach"}
        return kind, types.get(octets[2] & 0x03, "?")
    if message.protocol == "SMS" and len(octets) > 1:
        return _describe_sms(octets)
    return kind, ""


def _describe_sms(octets: bytes) -> tuple[str, str]:
    cp_type = octets[1]
    if cp_type == 0x04:
        return "cp-ack", ""
    if cp_type == 0x10:
        return "cp-error", f"cause {octets[2]}" if len(octets) > 2 else ""
    rp = octets[3 : 3 + octets[2]] if len(octets) > 2 else b""
    if not rp:
        return "cp-data", ""
    mti = rp[0] & 0x07
    if mti == 0x01:
        data = l3.rp_data(rp)
        tpdu = l3.sms_deliver(data.tpdu) if data else None
        if tpdu is None:
            return "sms-deliver", "undecodable TPDU"
        klass = tpdu.message_class
        return "sms-deliver", (
            f"from {tpdu.originator}, PID 0x{tpdu.pid:02x}, DCS 0x{tpdu.dcs:02x}"
            f"{'' if klass is None else f' (class {klass})'}{', UDH ' + tpdu.udh.hex() if tpdu.udhi else ''}"
            f", {len(tpdu.user_data)} octets"
        )
    if mti == 0x02:
        return "sms-rp-ack", f"message reference {rp[1]}" if len(rp) > 1 else ""
    if mti == 0x04:
        return "sms-rp-error", f"cause {rp[3]}" if len(rp) > 3 else ""
    return "cp-data", f"RP MTI {mti}"
