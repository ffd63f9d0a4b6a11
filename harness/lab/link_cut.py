"""Cutting an emulated device's lab link on the lab side, so what it tries meanwhile stays visible.

The device's tap leaves the lab bridge: nothing it sends reaches the lab's servers and nothing of
the lab reaches it (the tap's own IP input is refused too: strict reverse-path filtering, no
kernel ARP answers on it). Only ARP requests for the lab's addresses are answered, with the
bridge's MAC, by a small responder on the tap, the way a gateway whose upstream is gone still
answers ARP. Without it the device's neighbour entry would fail after a few seconds and its
kernel would stop sending IP at all, hiding every reconnection attempt from the capture.
Restoring puts the tap back on the bridge. (This machine's kernel has no tc classifiers or
nftables, so filtering by protocol on the tap is not available.)
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable
from pathlib import Path

from harness.errors import HarnessSetupError
from harness.lab.network import _ip
from harness.lab.side import LabSide

ETH_P_ARP = 0x0806
ARP_REQUEST, ARP_REPLY = 1, 2
RECV_BYTES = 2048  # an ARP frame is 42-60 bytes; anything longer is cut, never buffered
POLL_S = 0.2
STOP_TIMEOUT_S = 5.0


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def arp_reply(frame: bytes, answers: dict[bytes, bytes]) -> bytes | None:
    """The reply to an Ethernet ARP request for one of `answers` (IPv4 -> MAC), else None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    arp = frame[14:42]
    if arp[0:6] != b"\x00\x01\x08\x00\x06\x04" or int.from_bytes(arp[6:8], "big") != ARP_REQUEST:
        return None
    sender_mac, sender_ip, target_ip = arp[8:14], arp[14:18], arp[24:28]
    mac = answers.get(target_ip)
    if mac is None:
        return None
    body = (
        b"\x00\x01\x08\x00\x06\x04" + ARP_REPLY.to_bytes(2, "big") + mac + target_ip + sender_mac + sender_ip
    )
    return sender_mac + mac + b"\x08\x06" + body


class ArpResponder:
    """Answers ARP requests on one interface of the lab side, in a thread, until stopped."""

    def __init__(self, side: LabSide, interface: str, answers: dict[bytes, bytes]) -> None:
        self.side, self.interface, self.answers = side, interface, answers
        self.replies = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> None:
        with self.side.entered():
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            try:
                sock.bind((self.interface, ETH_P_ARP))
            except OSError as err:
                sock.close()
                raise HarnessSetupError(f"ARP responder on {self.interface}: {err}") from err
        sock.settimeout(POLL_S)
        self._socket = sock
        self._thread = threading.Thread(target=self._serve, name="hilsec-arp-responder", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        sock = self._socket
        assert sock is not None
        while not self._stop.is_set():
            try:
                frame = sock.recv(RECV_BYTES)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = arp_reply(frame, self.answers)
            if reply is not None:
                try:
                    sock.send(reply)
                    self.replies += 1
                except OSError:
                    continue

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._socket = None


class LabLinkCut:
    """Cut and restore the link between a tap and the lab bridge of one namespace."""

    def __init__(self, side: LabSide, namespace: str, tap: str, bridge: str, lab_addresses: Iterable[str]):
        self.side, self.namespace, self.tap, self.bridge = side, namespace, tap, bridge
        self.lab_addresses = tuple(lab_addresses)
        self.responder: ArpResponder | None = None

    @property
    def is_cut(self) -> bool:
        return self.responder is not None

    def _bridge_mac(self) -> bytes:
        shown = _ip("-n", self.namespace, "-j", "link", "show", "dev", self.bridge)
        try:
            return _mac(json.loads(shown.stdout)[0]["address"])
        except (ValueError, KeyError, IndexError) as err:
            raise HarnessSetupError(f"cannot read the MAC of {self.bridge}: {err}") from err

    def _interface_setting(self, name: str, value: str) -> None:
        with self.side.entered():  # /proc/sys/net is the namespace of the thread that opens it
            Path(f"/proc/sys/net/ipv4/conf/{self.tap}/{name}").write_text(value)

    def cut(self) -> None:
        if self.is_cut:
            return
        mac = self._bridge_mac()
        answers = {socket.inet_aton(address): mac for address in self.lab_addresses}
        self._interface_setting("rp_filter", "1")
        self._interface_setting("arp_ignore", "8")
        _ip("-n", self.namespace, "link", "set", self.tap, "nomaster")
        responder = ArpResponder(self.side, self.tap, answers)
        try:
            responder.start()
        except HarnessSetupError:
            self.restore()
            raise
        self.responder = responder

    def restore(self) -> None:
        if self.responder is not None:
            self.responder.stop()
            self.responder = None
        _ip("-n", self.namespace, "link", "set", self.tap, "master", self.bridge)
        self._interface_setting("rp_filter", "0")
        self._interface_setting("arp_ignore", "0")
