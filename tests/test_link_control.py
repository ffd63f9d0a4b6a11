"""The network-link capability's drivers: lab commands, the emulated cut's ARP answers, the
missing-capability reason naming the key."""

from __future__ import annotations

import socket

import pytest

from harness.capabilities import MissingCapability, NetworkLink
from harness.config.lab import LinkCommands
from harness.drivers.command_link import CommandLink
from harness.errors import HarnessSetupError
from harness.lab.link_cut import arp_reply

DEVICE_MAC = bytes.fromhex("525400123456")
BRIDGE_MAC = bytes.fromhex("02aabbccddee")
LAB = socket.inet_aton("10.0.2.2")
DEVICE = socket.inet_aton("10.0.2.15")


def _request(target: bytes, op: int = 1) -> bytes:
    arp = b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big") + DEVICE_MAC + DEVICE + bytes(6) + target
    return b"\xff" * 6 + DEVICE_MAC + b"\x08\x06" + arp


def test_arp_request_for_a_lab_address_is_answered_with_the_bridge_mac():
    reply = arp_reply(_request(LAB), {LAB: BRIDGE_MAC})
    assert reply is not None
    assert reply[:6] == DEVICE_MAC and reply[6:12] == BRIDGE_MAC and reply[12:14] == b"\x08\x06"
    assert reply[20:22] == b"\x00\x02"  # a reply
    assert reply[22:28] == BRIDGE_MAC and reply[28:32] == LAB
    assert reply[32:38] == DEVICE_MAC and reply[38:42] == DEVICE


@pytest.mark.parametrize(
    "frame",
    [
        _request(socket.inet_aton("10.0.2.99")),  # not a lab address
        _request(LAB, op=2),  # a reply, not a request
        _request(LAB)[:30],  # cut short
        b"\x00" * 12 + b"\x08\x00" + b"\x45" * 40,  # IPv4, not ARP
    ],
)
def test_anything_else_gets_no_answer(frame):
    assert arp_reply(frame, {LAB: BRIDGE_MAC}) is None


def test_link_commands_run_and_a_failure_names_the_command(tmp_path):
    marker = tmp_path / "state"
    link = CommandLink(LinkCommands(down=f"echo down > {marker}", up=f"echo up > {marker}"))
    link.cut()
    assert marker.read_text().strip() == "down" and link.is_cut
    link.stop()  # a test that ended with the link cut gets it back
    assert marker.read_text().strip() == "up" and not link.is_cut
    broken = CommandLink(LinkCommands(down="echo no switch >&2; exit 3", up="true"))
    with pytest.raises(HarnessSetupError, match="link down command .* failed with status 3: no switch"):
        broken.cut()
    slow = CommandLink(LinkCommands(down="sleep 5", up="true", timeout_s=0.5))
    with pytest.raises(HarnessSetupError, match="did not finish within 0.5 s"):
        slow.cut()


def test_a_bench_without_link_control_names_the_key():
    reason = str(MissingCapability(NetworkLink, "cut the device's network"))
    assert "network link control" in reason and "lab config: link (down, up" in reason
