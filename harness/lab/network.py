"""A lab network the harness sees all of: the emulated device's NIC on a tap in a private namespace.

A board on a bench sits on a lab LAN where the harness reaches every port and sees every packet.
QEMU's user-mode networking cannot give that (the lab reaches only forwarded ports, and through
NAT), so for an emulated device the harness builds the LAN itself, as root:

    network namespace hilsec-<pid>-<n>
      hilsec-br0   a bridge carrying the lab's address (the harness's servers and scanners)
      hilsec-tap0  QEMU's tap backend, enslaved to the bridge (the device's NIC)

Nothing is created outside the namespace and it has no uplink, so its private addresses never
reach another network. The default subnet mirrors QEMU's user-mode layout (lab 10.0.2.2, device
10.0.2.15) so captures, reasons and the reference image read the same in both modes; a lab
config can choose another (e.g. TEST-NET-1, 192.0.2.0/24).

Lab-side code runs inside the namespace through `network.side` (harness.lab.side): a socket
made or a process started inside `side.entered()` stays there; the caller's thread leaves. Namespaces are named after the
harness's pid; `remove_stale_namespaces` deletes those whose process is gone (after a crash).
"""

from __future__ import annotations

import atexit
import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessSetupError
from harness.lab.side import NETNS_DIR, LabSide, hold_namespace, release_namespace

NAMESPACE_PREFIX = "hilsec-"
BRIDGE_NAME = "hilsec-br0"
TAP_NAME = "hilsec-tap0"
DEFAULT_SUBNET = "10.0.2.0/24"
LAB_HOST_INDEX = 2  # 10.0.2.2, as QEMU's user-mode host
DEVICE_HOST_INDEX = 15  # 10.0.2.15, as QEMU's user-mode guest
# Extra lab-side source addresses for UDP scans: Linux rate-limits ICMP errors per peer (a burst
# of 6, then 1/s), so each extra address lets the device report 6 more closed ports at once.
SCANNER_HOST_INDEXES = (20, 21, 22, 23)
IP_TIMEOUT_S = 10.0
_STALE_NAME = re.compile(rf"^{NAMESPACE_PREFIX}(\d+)-\d+$")
_counter = itertools.count(1)


@dataclass(frozen=True)
class LabAddressing:
    """The lab network's addresses: the lab side (bridge) and the device."""

    subnet: ipaddress.IPv4Network
    lab_address: str
    device_address: str
    scanner_addresses: tuple[str, ...] = ()

    @classmethod
    def for_subnet(cls, subnet: str = DEFAULT_SUBNET) -> LabAddressing:
        network = ipaddress.IPv4Network(subnet, strict=True)
        if network.num_addresses < 32:
            raise ValueError(f"lab subnet {subnet} is too small; expected a /27 or larger")
        return cls(
            subnet=network,
            lab_address=str(network[LAB_HOST_INDEX]),
            device_address=str(network[DEVICE_HOST_INDEX]),
            scanner_addresses=tuple(str(network[index]) for index in SCANNER_HOST_INDEXES),
        )

    @property
    def prefix(self) -> int:
        return self.subnet.prefixlen

    def device_boot_arguments(self) -> list[str]:
        """Kernel command line words that give the reference image its static lab address."""
        return [f"hilsec.ip={self.device_address}/{self.prefix}"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise HarnessSetupError(f"ip {' '.join(args)}: {err}") from err
    if check and done.returncode != 0:
        raise HarnessSetupError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def namespace_mode_available() -> tuple[bool, str]:
    """Whether this process can build a lab namespace (root, iproute2, /dev/net/tun), and why not."""
    if os.geteuid() != 0:
        return False, "the harness is not running as root"
    if shutil.which("ip") is None:
        return False, "iproute2's `ip` is not installed"
    if not Path("/dev/net/tun").exists():
        return False, "/dev/net/tun is missing (no tap devices)"
    return True, "root, iproute2 and /dev/net/tun are available"


def choose_network_mode(requested: str) -> tuple[str, str]:
    """("namespace" | "user", why) for a lab config's `network.mode` (auto, namespace, user)."""
    if requested == "user":
        return "user", "the lab config asks for QEMU user-mode networking"
    available, why = namespace_mode_available()
    if requested == "namespace":
        if not available:
            raise HarnessSetupError(f"lab network mode 'namespace' is not possible here: {why}")
        return "namespace", "the lab config asks for a lab network namespace"
    if available:
        return "namespace", f"auto: {why}"
    return "user", f"auto: user-mode networking because {why}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespace_pids(name: str) -> list[int]:
    done = _ip("netns", "pids", name, check=False)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def _delete_namespace(name: str) -> None:
    """Stop what still runs in the namespace (a QEMU left by a crash), then delete it."""
    for pid in _namespace_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _ip("netns", "delete", name, check=False)


def remove_stale_namespaces() -> list[str]:
    """Delete hilsec namespaces whose creating process is gone; return their names."""
    if not NETNS_DIR.is_dir():
        return []
    removed = []
    for entry in sorted(NETNS_DIR.iterdir()):
        match = _STALE_NAME.match(entry.name)
        if match and not _pid_alive(int(match.group(1))):
            _delete_namespace(entry.name)
            removed.append(entry.name)
    return removed


class LabNetwork:
    """One lab network namespace with a bridge and the device's tap; create, use, destroy."""

    def __init__(self, subnet: str = DEFAULT_SUBNET, name: str | None = None) -> None:
        self.addressing = LabAddressing.for_subnet(subnet)
        self.name = name or f"{NAMESPACE_PREFIX}{os.getpid()}-{next(_counter)}"
        self.bridge = BRIDGE_NAME
        self.tap = TAP_NAME
        self.setup_seconds: float | None = None
        self.created = False
        self._side = LabSide(self.name)

    @property
    def lab_address(self) -> str:
        return self.addressing.lab_address

    @property
    def device_address(self) -> str:
        return self.addressing.device_address

    @property
    def scanner_addresses(self) -> tuple[str, ...]:
        return self.addressing.scanner_addresses

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def create(self) -> None:
        """Build the namespace, bridge and tap (stale namespaces of dead runs are removed first)."""
        if self.created:
            return
        started = time.monotonic()
        remove_stale_namespaces()
        _ip("netns", "add", self.name)
        hold_namespace(self.name)
        self.created = True
        atexit.register(self.destroy)  # an interrupted run leaves nothing behind either
        try:
            address = f"{self.lab_address}/{self.addressing.prefix}"
            in_ns = ("-n", self.name)
            _ip(*in_ns, "link", "set", "lo", "up")
            _ip(*in_ns, "link", "add", self.bridge, "type", "bridge", "forward_delay", "0")
            _ip(*in_ns, "tuntap", "add", "dev", self.tap, "mode", "tap")
            _ip(*in_ns, "link", "set", self.tap, "master", self.bridge)
            _ip(*in_ns, "address", "add", address, "dev", self.bridge)
            for scanner in self.addressing.scanner_addresses:
                _ip(*in_ns, "address", "add", f"{scanner}/{self.addressing.prefix}", "dev", self.bridge)
            _ip(*in_ns, "link", "set", self.tap, "up")
            _ip(*in_ns, "link", "set", self.bridge, "up")
        except HarnessSetupError:
            self.destroy()
            raise
        self.setup_seconds = time.monotonic() - started

    def destroy(self) -> None:
        """Remove the namespace and everything in it; safe to call twice."""
        if self.created:
            release_namespace(self.name)
            _delete_namespace(self.name)
            self.created = False
            atexit.unregister(self.destroy)

    @property
    def side(self) -> LabSide:
        """Where lab-side sockets and processes of this network are made (see harness.lab.side)."""
        return self._side

    def __enter__(self) -> LabNetwork:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        return f"LabNetwork({self.name}, {self.addressing.subnet}, lab={self.lab_address})"
