"""The virtual radio of osmo-bts-virtual: GSMTAP over UDP multicast, downlink and uplink groups.

`VirtualUm` names where the radio is (its network namespace, groups, port, ARFCN); `UmSocket`
is one station's pair of sockets on it, made inside that namespace so they stay there. A
receive socket bound to 0.0.0.0 also receives the other group (IP_MULTICAST_ALL), which is how
the cell's radio monitor hears both directions; a mobile station filters on the uplink flag.
"""

from __future__ import annotations

import socket
import struct
import time
from contextlib import nullcontext
from dataclasses import dataclass

from harness.cell import gsmtap
from harness.lab.side import LabSide

DOWNLINK_GROUP = "239.193.23.1"
UPLINK_GROUP = "239.193.23.2"
DATAGRAM_LIMIT = 2048  # a GSMTAP Um frame is 16 + 23 octets; anything longer is clipped
RECEIVE_BUFFER = 4 * 1024 * 1024  # a busy host must not drop frames while a station is slow to read
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)
_TIMEVAL = struct.Struct("@ll")


@dataclass(frozen=True)
class VirtualUm:
    """Where a virtual radio is: one per cell, in the cell's network namespace."""

    namespace: str | None
    arfcn: int
    downlink_group: str = DOWNLINK_GROUP
    uplink_group: str = UPLINK_GROUP
    port: int = gsmtap.PORT
    interface_address: str = "127.0.0.1"

    def describe(self) -> str:
        where = f" in network namespace {self.namespace}" if self.namespace else ""
        return f"virtual Um (GSMTAP multicast {self.downlink_group}/{self.uplink_group}:{self.port}{where})"


class UmSocket:
    """A station on the virtual radio: receive frames (both groups), send uplink or downlink."""

    def __init__(self, radio: VirtualUm, *, groups: tuple[str, ...] | None = None) -> None:
        self.radio = radio
        wanted = groups or (radio.downlink_group,)
        side = LabSide(radio.namespace) if radio.namespace else None
        with side.entered() if side else nullcontext():
            self._rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            # The kernel's arrival time, not the moment a busy reader got round to the frame.
            self._rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            self._rx.bind(("0.0.0.0", radio.port))
            for group in wanted:
                membership = socket.inet_aton(group) + socket.inet_aton(radio.interface_address)
                self._rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            self._tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._tx.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(radio.interface_address)
            )
            self._tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)

    def receive(self, timeout: float) -> tuple[gsmtap.GsmtapFrame | None, bytes]:
        """(frame or None, the datagram) within `timeout` seconds; (None, b"") on timeout."""
        frame, datagram, _ = self.receive_timed(timeout)
        return frame, datagram

    def receive_timed(self, timeout: float) -> tuple[gsmtap.GsmtapFrame | None, bytes, float]:
        """As receive(), with the time the frame arrived (the kernel's timestamp)."""
        self._rx.settimeout(max(timeout, 0.001))
        try:
            datagram, ancillary, _, _ = self._rx.recvmsg(DATAGRAM_LIMIT, 64)
        except (TimeoutError, OSError):
            return None, b"", time.time()
        when = time.time()
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(data) >= _TIMEVAL.size:
                seconds, micro = _TIMEVAL.unpack_from(data)
                when = seconds + micro / 1e6
        return gsmtap.parse(datagram), datagram, when

    def send_uplink(self, frame: gsmtap.GsmtapFrame) -> None:
        self._tx.sendto(frame.to_bytes(), (self.radio.uplink_group, self.radio.port))

    def close(self) -> None:
        for sock in (self._rx, self._tx):
            try:
                sock.close()
            except OSError:
                pass
