"""The mobile station's side of LAPDm (3GPP TS 44.006) on one dedicated channel (SDCCH).

Acknowledged mode with window size 1, as on SDCCH: SABM with the initial layer-3 message
(contention resolution: the UA must echo it), I frames with N(S)/N(R), segmentation with the
M bit, RR acknowledgements, network-initiated SAPI 3 (SMS) with SABM/UA, DISC/UA. Everything
runs on the caller's thread: `receive()` and `send()` read radio frames until they have what they
need, each bounded by a timeout, so one thread drives the whole mobile station.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from harness.cell import gsmtap, lapdm
from harness.cell.virtual_um import UmSocket
from harness.util.deadlines import Deadline

log = logging.getLogger(__name__)
UA_TIMEOUT_S = 2.0
T200_S = 1.0  # how long an I frame waits for its acknowledgement before it is sent again
N200 = 5
# No frame at all on the dedicated channel (the BTS sends its SACCH every 0.47 s) for this long:
# the channel is gone (the cell stopped or was reconfigured), as a real phone's radio link
# timeout decides; waiting out a layer-3 timer instead would keep the station off the BCCH.
RADIO_LINK_TIMEOUT_S = 3.0
SILENCE_POLL_S = 0.5
MESSAGE_LIMIT = 251  # a layer-3 message longer than this (13 segments) is garbage from the radio


class LinkError(Exception):
    """The data link failed (no UA, no acknowledgement, the channel went away)."""


@dataclass
class _Sapi:
    established: bool = False
    vs: int = 0
    vr: int = 0
    va: int = 0
    segments: list[bytes] = field(default_factory=list)


class DataLink:
    """LAPDm on one SDCCH (SDCCH/4 or SDCCH/8 subchannel `subslot` of timeslot `timeslot`)."""

    def __init__(self, radio: UmSocket, *, arfcn: int, timeslot: int, channel: int, subslot: int,
                 frame_number: int, link_timeout: float = RADIO_LINK_TIMEOUT_S) -> None:  # fmt: skip
        self.radio = radio
        self.link_timeout = link_timeout
        self.arfcn, self.timeslot, self.channel, self.subslot = arfcn, timeslot, channel, subslot
        self.frame_number = frame_number
        self._sapis = {0: _Sapi(), 3: _Sapi()}
        self._inbox: deque[tuple[int, bytes]] = deque()
        self.closed = False
        self.last_downlink = time.time()  # arrival time (the kernel's clock) of our channel's last frame

    # --- radio --------------------------------------------------------------------------------
    def _mine(self, frame: gsmtap.GsmtapFrame) -> bool:
        return (
            not frame.uplink
            and frame.channel == self.channel
            and frame.timeslot == self.timeslot
            and frame.subslot == self.subslot
        )

    def _transmit(self, frame: lapdm.Frame, *, sacch: bool = False) -> None:
        log.debug("UL SAPI%d %s %s", frame.sapi, frame.name, frame.info.hex())
        block = lapdm.build(frame)
        self.radio.send_uplink(
            gsmtap.GsmtapFrame(
                self.arfcn,
                True,
                self.timeslot,
                self.channel,
                sacch,
                self.subslot,
                self.frame_number,
                gsmtap.BEST_SIGNAL_DBM,
                block,
            )  # fmt: skip
        )

    def _next_frame(self, deadline: Deadline) -> lapdm.Frame | None:
        """The next LAPDm frame of this channel's main signalling link before `deadline`."""
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                return None
            frame, _, arrived = self.radio.receive_timed(min(remaining, SILENCE_POLL_S))
            if frame is not None and not frame.uplink:
                self.frame_number = frame.frame_number
            if frame is None or not self._mine(frame):
                # Silence is measured in arrival times, so a reader that stalled and now reads
                # a backlog does not take the channel for lost before it reaches its own frames.
                silent = arrived - self.last_downlink
                if silent > self.link_timeout:
                    raise LinkError(f"radio link lost: nothing on the channel for {silent:.1f} s")
                continue
            self.last_downlink = arrived
            if frame.sacch:
                continue  # SI5/SI6 and power control: nothing for layer 3 here
            parsed = lapdm.parse(frame.payload)
            if parsed is not None:
                return parsed

    def _pump(self, deadline: Deadline) -> bool:
        """Handle the next frame of this channel that comes before `deadline`; False if none came."""
        frame = self._next_frame(deadline)
        if frame is None:
            return False
        self._handle(frame)
        return True

    # --- receiving ----------------------------------------------------------------------------
    def _handle(self, frame: lapdm.Frame) -> None:
        log.debug("DL SAPI%d %s %s", frame.sapi, frame.name, frame.info.hex())
        state = self._sapis.get(frame.sapi)
        if state is None:
            return
        if frame.kind == "U":
            if frame.command == lapdm.SABM:  # the network opens SAPI 3 for an SMS
                state.established, state.vs, state.vr, state.va, state.segments = True, 0, 0, 0, []
                self._transmit(lapdm.Frame(frame.sapi, 1, "U", True, command=lapdm.UA))
            elif frame.command == lapdm.DISC:
                state.established = False
                self._transmit(lapdm.Frame(frame.sapi, 1, "U", True, command=lapdm.UA))
            elif frame.command == lapdm.DM:
                state.established = False
            return
        if frame.kind == "S":
            self._acknowledged(state, frame.nr)
            if frame.poll:  # the network asks for our state: answer RR with F=1
                self._transmit(lapdm.Frame(frame.sapi, 1, "S", True, nr=state.vr))
            return
        self._acknowledged(state, frame.nr)
        if frame.ns == state.vr:
            state.vr = (state.vr + 1) % 8
            state.segments.append(frame.info)
            if not frame.more:
                message = b"".join(state.segments)
                state.segments = []
                if message:
                    self._inbox.append((frame.sapi, message))
            elif sum(len(part) for part in state.segments) > MESSAGE_LIMIT:
                state.segments = []
        # A new frame or a retransmission of the last one: acknowledge what we hold.
        self._transmit(lapdm.Frame(frame.sapi, 1, "S", frame.poll, nr=state.vr))

    @staticmethod
    def _acknowledged(state: _Sapi, nr: int) -> None:
        if (nr - state.va) % 8 <= (state.vs - state.va) % 8:
            state.va = nr

    def receive(self, timeout: float) -> tuple[int, bytes] | None:
        """The next complete layer-3 message (sapi, octets) within `timeout` s, else None."""
        deadline = Deadline.after(timeout)
        while not self._inbox:
            if not self._pump(deadline):
                return None
        return self._inbox.popleft()

    # --- sending ------------------------------------------------------------------------------
    def establish(self, initial: bytes) -> None:
        """SABM with the initial message on SAPI 0; the UA must echo it (contention resolution)."""
        sabm = lapdm.Frame(0, 0, "U", True, command=lapdm.SABM, info=initial)
        for _ in range(N200):
            self._transmit(sabm)
            deadline = Deadline.after(UA_TIMEOUT_S / 2)
            while (frame := self._next_frame(deadline)) is not None:
                if frame.sapi == 0 and frame.kind == "U" and frame.command == lapdm.UA:
                    if frame.info != initial:
                        raise LinkError("contention resolution failed: the UA echoes another station")
                    state = self._sapis[0]
                    state.established, state.vs, state.vr, state.va = True, 0, 0, 0
                    return
        raise LinkError("no UA to SABM on SAPI 0")

    def send(self, message: bytes, sapi: int = 0) -> None:
        """Send one layer-3 message as I frames, each acknowledged before the next (window 1)."""
        state = self._sapis[sapi]
        if not state.established:
            raise LinkError(f"SAPI {sapi} is not established")
        for part, more in lapdm.segments(message):
            ns = state.vs
            frame = lapdm.Frame(sapi, 0, "I", False, ns=ns, nr=state.vr, more=more, info=part)
            state.vs = (state.vs + 1) % 8
            for attempt in range(N200):
                self._transmit(
                    frame
                    if attempt == 0
                    else lapdm.Frame(
                        sapi, 0, "I", True, ns=ns, nr=state.vr, more=more, info=part
                    )  # fmt: skip
                )
                t200 = Deadline.after(T200_S)  # re-armed for each (re)transmission
                while state.va != state.vs and not t200.expired and not self._released(state):
                    self._pump(t200)
                if state.va == state.vs:
                    break
                if self._released(state):
                    log.debug("SAPI %d released by the network before it acknowledged N(S)=%d", sapi, ns)
                    return
            else:
                raise LinkError(f"no acknowledgement for I frame N(S)={ns} on SAPI {sapi}")

    def _released(self, state: _Sapi) -> bool:
        """The network ended the link (DISC/DM) or is releasing the channel (CHANNEL RELEASE queued)."""
        return not state.established or any(m[:2] == b"\x06\x0d" for _, m in self._inbox)

    def release(self) -> None:
        """Leave the channel (after CHANNEL RELEASE): a DISC on SAPI 0, unacknowledged."""
        if not self.closed:
            self._transmit(lapdm.Frame(0, 0, "U", True, command=lapdm.DISC))
            self.closed = True
