"""The lab network namespace and the lab-side scanner, on real namespaces (root) without QEMU."""

from __future__ import annotations

import os
import socket
import subprocess
import threading

import pytest

from harness.lab import network as labnet
from harness.lab.network import LabAddressing, LabNetwork, choose_network_mode, remove_stale_namespaces
from harness.probes.portscan import tcp_syn_scan, udp_scan

needs_namespaces = pytest.mark.skipif(
    not labnet.namespace_mode_available()[0], reason="needs root, iproute2 and /dev/net/tun"
)


def _namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_addressing_mirrors_user_mode_by_default_and_takes_any_subnet():
    default = LabAddressing.for_subnet()
    assert (default.lab_address, default.device_address) == ("10.0.2.2", "10.0.2.15")
    test_net = LabAddressing.for_subnet("192.0.2.0/24")
    assert (test_net.lab_address, test_net.device_address) == ("192.0.2.2", "192.0.2.15")
    assert test_net.device_boot_arguments() == ["hilsec.ip=192.0.2.15/24"]
    assert all(a.startswith("192.0.2.") for a in test_net.scanner_addresses)
    with pytest.raises(ValueError):
        LabAddressing.for_subnet("192.0.2.0/29")


def test_user_mode_is_chosen_when_asked_and_auto_explains_itself(monkeypatch):
    assert choose_network_mode("user")[0] == "user"
    monkeypatch.setattr(labnet, "namespace_mode_available", lambda: (False, "not root"))
    mode, why = choose_network_mode("auto")
    assert mode == "user" and "not root" in why
    with pytest.raises(labnet.HarnessSetupError, match="not root"):
        choose_network_mode("namespace")


@needs_namespaces
def test_namespace_is_created_entered_and_removed():
    with LabNetwork(subnet="192.0.2.0/24") as network:
        assert network.name in _namespaces()
        assert network.name.startswith(f"hilsec-{os.getpid()}-")
        links = subprocess.run(
            ["ip", "-n", network.name, "-br", "addr"], capture_output=True, text=True
        ).stdout
        assert "hilsec-br0" in links and "192.0.2.2/24" in links and "hilsec-tap0" in links
        with network.side.entered():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((network.lab_address, 0))  # the lab address exists only in there
            inside = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
            assert "hilsec-br0" in inside
        outside = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
        assert "hilsec-br0" not in outside
        assert network.setup_seconds is not None and network.setup_seconds < 5
    assert network.name not in _namespaces()


@needs_namespaces
def test_a_namespace_deleted_under_the_run_gets_its_name_back_with_everything_in_it():
    """`ip netns delete` mid-run (a cleanup script, a colleague) removes only the name: the lab's
    listening socket, the bridge and the tap live on, and the next entry names the namespace again,
    so later tests and QEMU restarts find the same lab network."""
    with LabNetwork(subnet="192.0.2.0/24") as network:
        with network.side.entered():
            listener = socket.socket()
            listener.bind((network.lab_address, 0))
            listener.listen()
        port = listener.getsockname()[1]
        subprocess.run(["ip", "netns", "delete", network.name], check=True, timeout=30)
        assert network.name not in _namespaces()
        with network.side.entered():  # restores the name, then enters the same namespace
            with socket.create_connection((network.lab_address, port), timeout=5):
                pass
        assert network.name in _namespaces()
        links = subprocess.run(
            network.side.command(["ip", "-br", "link"]), capture_output=True, text=True
        ).stdout
        assert "hilsec-br0" in links and "hilsec-tap0" in links
        listener.close()
    assert network.name not in _namespaces()


@needs_namespaces
def test_stale_namespace_of_a_dead_run_is_removed():
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"hilsec-{dead.pid}-1"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in remove_stale_namespaces()
        assert stale not in _namespaces()
    finally:
        subprocess.run(["ip", "netns", "delete", stale], capture_output=True)


@needs_namespaces
def test_scanner_finds_tcp_and_udp_listeners_inside_the_namespace():
    """The real scan code on a namespace's loopback: open, closed and answering UDP ports."""
    with LabNetwork() as network, network.side.entered():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        tcp_port = listener.getsockname()[1]
        echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        echo.bind(("127.0.0.1", 0))
        udp_port = echo.getsockname()[1]

        def answer_once() -> None:
            echo.settimeout(5)
            try:
                data, peer = echo.recvfrom(100)
                echo.sendto(b"pong " + data, peer)
            except OSError:
                pass

        thread = threading.Thread(target=answer_once, daemon=True)
        thread.start()
        try:
            ports = range(max(1, tcp_port - 200), min(65535, tcp_port + 200))
            scan = tcp_syn_scan("127.0.0.1", ports)
            states = udp_scan("127.0.0.1", [udp_port, 9], budget_s=15)  # ends once both answered
        finally:
            listener.close()
            thread.join(timeout=6)
            echo.close()
    assert scan.tcp_open == [tcp_port]
    assert scan.tcp_filtered == []
    assert states == {udp_port: "open", 9: "closed"}


def test_qemu_on_a_lab_network_uses_the_tap_inside_the_namespace(tmp_path):
    from harness.drivers.qemu import QemuMachine

    machine = QemuMachine(
        kernel=tmp_path / "k",
        initrd=tmp_path / "i",
        append="",
        workdir=tmp_path,
        tap="hilsec-tap0",
        netns="hilsec-1-1",
    )
    argv = machine.command_line("tcg")
    assert argv[:4] == ["ip", "netns", "exec", "hilsec-1-1"]
    netdev = argv[argv.index("-netdev") + 1]
    assert netdev.startswith("tap,id=n0,ifname=hilsec-tap0,") and "vnet_hdr=off" in netdev
    with pytest.raises(KeyError, match="tap NIC"):
        machine.host_port("tcp", 22)
    with pytest.raises(ValueError, match="forwards"):
        QemuMachine(
            kernel=tmp_path / "k",
            initrd=tmp_path / "i",
            append="",
            workdir=tmp_path,
            tap="t",
            forwards=[("tcp", 22)],
        )
