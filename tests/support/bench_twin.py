"""The bench twin: a reference image set up as a board that knows nothing of hilsec.

A lab's bench has a board on a USB-UART adapter, a LAN cable into the lab switch and a power
switch. The twin builds the same from real parts, so the harness's bench path (serial console,
power by command, capture on an interface, lab servers on fixed ports) is exercised end to end:

- the board is QEMU, started by the twin's own power-on shell command and killed by its
  power-off command (`lab config: power`); the harness never launches it;
- its serial is a pty behind `UsbUartStandIn` (two linked ptys: QEMU opens the board side, the
  lab side stays while the board is off, as a USB adapter does), so the profile says
  `console: serial: url: /dev/pts/N`; or that lab side exported by a real `ser2net` over RFC 2217
  (`rfc2217://127.0.0.1:PORT`) or raw TCP (`socket://127.0.0.1:PORT`);
- its NIC is a tap on a bridge in a network namespace the lab config names as the lab LAN
  (`network.namespace`, `capture.interface`);
- it is configured, like any bench device, to send to the lab's fixed ports: its kernel command
  line pins them as the reference image's `hilsec.*` words, with the fingerprint of the lab's
  own TLS certificate (`servers.tls_certificate`).

Only the test fixtures use this module; the harness reads just the profile and lab config it
writes.
"""

from __future__ import annotations

import errno
import itertools
import os
import select
import shlex
import shutil
import socket
import subprocess
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessSetupError
from harness.lab.certificates import certificate_sha256, ensure_lab_certificate
from harness.lab.network import LabNetwork
from harness.util.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
TWIN_SUBNET = "192.0.2.0/24"  # TEST-NET-1: not the emulated runs' 10.0.2.0/24, so nothing relies on it
CONSOLE_KINDS = ("pty", "rfc2217", "socket")
CHUNK = 4096
SER2NET_START_TIMEOUT_S = 10.0
POWER_TIMEOUT_S = 60.0
_names = itertools.count(1)

# The lab servers' fixed ports: what the twin board is configured to send to (lab config servers).
TWIN_PORTS: dict[str, int] = {
    "telemetry_dtls_port": 5684,
    "telemetry_plain_port": 5683,
    "syslog_udp_port": 5514,
    "syslog_tcp_port": 5515,
    "syslog_tls_port": 6514,
    "update_http_port": 8080,
    "update_check_operator_port": 8081,
    "update_check_manufacturer_port": 8082,
    "sip_udp_port": 5060,
    "sip_tcp_port": 5060,
    "sip_tls_port": 5061,
}


class UsbUartStandIn:
    """A stand-in for a USB-UART adapter: two linked ptys, bytes copied both ways by a thread.

    `board_path` is the board's end of the cable (QEMU opens it with `-serial`); `lab_path` is
    the adapter's device node on the lab host (what `/dev/ttyUSB0` would be). The stand-in keeps
    both slave ends open itself, so the lab side stays when the board is switched off (its QEMU
    killed) and a lab program closing the port does not end the cable either. Bytes the board
    side cannot take (nobody reads it: the board is off) are dropped, as a UART without a
    powered peer drops them.
    """

    def __init__(self) -> None:
        self._board_master, self._board_slave = os.openpty()
        self._lab_master, self._lab_slave = os.openpty()
        for fd in (self._board_slave, self._lab_slave):
            tty.setraw(fd, termios.TCSANOW)
        for fd in (self._board_master, self._lab_master):
            os.set_blocking(fd, False)
        self.board_path = os.ttyname(self._board_slave)
        self.lab_path = os.ttyname(self._lab_slave)
        self.dropped = 0
        self._stop_read, self._stop_write = os.pipe()
        self._thread = threading.Thread(target=self._copy, name="usb-uart-stand-in", daemon=True)
        self._thread.start()

    def reenumerate(self, *, away_s: float = 0.5) -> str:
        """The adapter drops off USB and comes back as a new device node (ttyUSB0 -> ttyUSB1):
        the old lab side goes away (a program holding it reads EIO), a new one appears after
        `away_s`. Returns the new `lab_path`."""
        self._stop_copying()
        for fd in (self._lab_master, self._lab_slave):
            os.close(fd)
        time.sleep(away_s)
        self._lab_master, self._lab_slave = os.openpty()
        tty.setraw(self._lab_slave, termios.TCSANOW)
        os.set_blocking(self._lab_master, False)
        self.lab_path = os.ttyname(self._lab_slave)
        self._thread = threading.Thread(target=self._copy, name="usb-uart-stand-in", daemon=True)
        self._thread.start()
        return self.lab_path

    def _stop_copying(self) -> None:
        if self._thread.is_alive():
            os.write(self._stop_write, b"x")
            self._thread.join(timeout=5)
        while select.select([self._stop_read], [], [], 0)[0]:  # the copier may be restarted
            os.read(self._stop_read, 1)

    def _copy(self) -> None:
        peers = {self._board_master: self._lab_master, self._lab_master: self._board_master}
        while True:
            ready, _, _ = select.select([self._board_master, self._lab_master, self._stop_read], [], [])
            if self._stop_read in ready:
                return
            for source in ready:
                try:
                    data = os.read(source, CHUNK)
                except BlockingIOError:
                    continue
                except OSError as err:  # EIO: no slave open (cannot happen while we hold them)
                    if err.errno != errno.EIO:
                        raise
                    continue
                self._deliver(peers[source], data)

    def _deliver(self, target: int, data: bytes) -> None:
        try:
            written = os.write(target, data)
        except BlockingIOError:
            written = 0
        self.dropped += len(data) - written

    def close(self) -> None:
        self._stop_copying()
        for fd in (self._board_master, self._board_slave, self._lab_master, self._lab_slave):
            try:
                os.close(fd)
            except OSError:
                pass
        os.close(self._stop_read)
        os.close(self._stop_write)


class Ser2net:
    """A real ser2net exporting one serial device on 127.0.0.1: RFC 2217 (telnet) or raw TCP."""

    def __init__(self, device: str, workdir: Path, *, rfc2217: bool) -> None:
        if shutil.which("ser2net") is None:
            raise HarnessSetupError("ser2net is not installed (Debian package ser2net; see the Makefile)")
        self.port = _free_tcp_port()
        accepter = f"telnet(rfc2217),tcp,127.0.0.1,{self.port}" if rfc2217 else f"tcp,127.0.0.1,{self.port}"
        self.url = f"{'rfc2217' if rfc2217 else 'socket'}://127.0.0.1:{self.port}"
        self.config = workdir / "ser2net.yaml"
        self.config.write_text(
            "%YAML 1.1\n---\n"
            "connection: &twin\n"
            f"  accepter: {accepter}\n"
            f"  connector: serialdev,{device},115200n81,local\n"
            "  options:\n"
            "    kickolduser: true\n"
        )
        self.log = workdir / "ser2net.log"
        with self.log.open("wb") as log:
            # -n: stay in the foreground; -u: no UUCP lock files; -P: its pid file in our folder.
            argv = ["ser2net", "-n", "-u", "-c", str(self.config), "-P", str(workdir / "ser2net.pid")]
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + SER2NET_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessSetupError(f"ser2net exited: {self.log.read_text(errors='replace')[-500:]}")
            if _tcp_listening(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise HarnessSetupError(
            f"ser2net did not listen on 127.0.0.1:{self.port} within {SER2NET_START_TIMEOUT_S} s"
        )

    def stop(self) -> None:
        stop_process(self.process)


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tcp_listening(port: int) -> bool:
    """Whether something listens on TCP `port` (from /proc/net/tcp, without connecting to it)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A":
                return True
    return False


@dataclass
class TwinBoard:
    """What the twin's board boots and how it is configured; `disk` replaces kernel+initrd."""

    kernel: Path | None = None
    initrd: Path | None = None
    append: str = ""
    disk: Path | None = None
    memory_mb: int = 256


@dataclass
class BenchTwin:
    """One twin bench: network namespace, USB-UART stand-in, optional ser2net, power scripts.

    `start()` sets the bench up with the board off; `profile_path` and `lab_config_path` are what a
    lab would write for it. `power_on()` / `power_off()` run the same commands the lab config names.
    """

    name: str
    workdir: Path
    board: TwinBoard
    console: str = "pty"
    power: bool = True
    profile_base: Mapping[str, Any] = field(default_factory=dict)
    edit_profile: Callable[[dict[str, Any]], None] | None = None
    edit_lab: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        if self.console not in CONSOLE_KINDS:
            raise ValueError(f"console {self.console!r}: one of {', '.join(CONSOLE_KINDS)}")
        self.network = LabNetwork(TWIN_SUBNET, name=f"twin-{os.getpid()}-{next(_names)}")
        self.uart: UsbUartStandIn | None = None
        self.ser2net: Ser2net | None = None
        self.pid_file = self.workdir / "board.pid"
        self.profile_path = self.workdir / f"{self.name}.profile.yaml"
        self.lab_config_path = self.workdir / f"{self.name}.lab.yaml"
        self.certificate: Path | None = None
        self.key: Path | None = None

    # --- set-up ------------------------------------------------------------------------------

    def start(self) -> BenchTwin:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.network.create()
            self.uart = UsbUartStandIn()
            if self.console != "pty":
                self.ser2net = Ser2net(self.uart.lab_path, self.workdir, rfc2217=self.console == "rfc2217")
            self.key, self.certificate = ensure_lab_certificate(self.workdir / "lab-tls")
            self._write_power_scripts()
            self.lab_config_path.write_text(yaml.safe_dump(self.lab_config(), sort_keys=False))
            self.profile_path.write_text(yaml.safe_dump(self.profile(), sort_keys=False))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Switch the board off and take the bench apart; safe twice."""
        if self.pid_file.parent.exists():
            self.power_off()
        if self.ser2net is not None:
            self.ser2net.stop()
            self.ser2net = None
        if self.uart is not None:
            self.uart.close()
            self.uart = None
        self.network.destroy()

    def __enter__(self) -> BenchTwin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the lab writes -----------------------------------------------------------------

    @property
    def console_url(self) -> str:
        assert self.uart is not None
        return self.ser2net.url if self.ser2net is not None else self.uart.lab_path

    @property
    def lab_address(self) -> str:
        return self.network.lab_address

    @property
    def device_address(self) -> str:
        return self.network.device_address

    def lab_config(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "lab-config",
            "name": f"{self.name} bench",
            "image_cache": str(Path("~/.cache/hilsec/images").expanduser()),
            "servers": {
                "bind_address": self.lab_address,
                "device_facing_address": self.lab_address,
                "tls_certificate": str(self.certificate),
                "tls_key": str(self.key),
                **TWIN_PORTS,
            },
            "timeouts": {"command_s": 30, "login_s": 60, "lockout_s": 60},
            "network": {"namespace": self.network.name},
            "capture": {"interface": self.network.bridge},
        }
        if self.power:
            data["power"] = {
                "on": f"sh {shlex.quote(str(self.workdir / 'power-on.sh'))}",
                "off": f"sh {shlex.quote(str(self.workdir / 'power-off.sh'))}",
                "off_seconds": 1,
                "timeout_s": POWER_TIMEOUT_S,
            }
        if self.edit_lab is not None:
            self.edit_lab(data)
        return data

    def write_lab_config(
        self, path: Path, *, power: bool = True, edit: Callable[[dict], None] | None = None
    ) -> Path:
        """Another lab config for this bench: without power control (`power=False`) or edited."""
        data = self.lab_config()
        if not power:
            data.pop("power", None)
        if edit is not None:
            edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def profile(self) -> dict[str, Any]:
        """The bench profile: the base profile's declarations, reached over the twin's serial and LAN."""
        data = yaml.safe_load(yaml.safe_dump(dict(self.profile_base))) if self.profile_base else {}
        data["name"] = self.name
        data["console"] = {"serial": {"url": self.console_url, "baudrate": 115200}}
        data.setdefault("network", {})["address"] = self.device_address
        if self.board.initrd is not None:
            data["firmware_image"] = str(self.board.initrd)  # what the maker hands the lab to scan
            if data.get("secure_boot", {}).get("method") == "uefi-ovmf":
                data["secure_boot"]["initrd"] = str(self.board.initrd)
        if self.edit_profile is not None:
            self.edit_profile(data)
        return data

    # --- the board's configuration and power -------------------------------------------------

    def boot_words(self) -> list[str]:
        """The board's configuration: where it sends, as the reference image reads it (`hilsec.*`)."""
        from harness.lab.services.sip_registrar import REFERENCE_SIP_PASSWORD
        from harness.lab.services.telemetry import TELEMETRY_INTERVAL_S

        assert self.certificate is not None
        lab, ports, pin = self.lab_address, TWIN_PORTS, certificate_sha256(self.certificate)
        prefix = self.network.addressing.prefix
        return [
            f"hilsec.ip={self.device_address}/{prefix}",
            f"hilsec.telemetry={lab}:{ports['telemetry_dtls_port']}",
            f"hilsec.telemetry_plain={lab}:{ports['telemetry_plain_port']}",
            f"hilsec.interval={TELEMETRY_INTERVAL_S}",
            f"hilsec.sip_registrar={lab}:{ports['sip_udp_port']}",
            f"hilsec.sip_password={REFERENCE_SIP_PASSWORD}",
            f"hilsec.sip_tls={lab}:{ports['sip_tls_port']}",
            f"hilsec.sip_tls_sha256={pin}",
            f"hilsec.syslog_tls={lab}:{ports['syslog_tls_port']}",
            f"hilsec.syslog_tls_sha256={pin}",
            f"hilsec.syslog_plain={lab}:{ports['syslog_udp_port']}",
            f"hilsec.update_server={lab}:{ports['update_http_port']}",
            f"hilsec.update_operator={lab}:{ports['update_check_operator_port']}",
            f"hilsec.update_manufacturer={lab}:{ports['update_check_manufacturer_port']}",
        ]

    def qemu_argv(self) -> list[str]:
        """The board: QEMU in the lab LAN's namespace, serial on the stand-in's board side."""
        assert self.uart is not None
        board = self.board
        if board.disk is not None:
            source = ["-drive", f"file={board.disk},format=raw,if=virtio,snapshot=on", "-boot", "c"]
        else:
            assert board.kernel is not None
            append = " ".join([board.append, *self.boot_words()]).strip()
            source = ["-kernel", str(board.kernel), "-append", append]
            if board.initrd is not None:
                source += ["-initrd", str(board.initrd)]
        return [
            "ip", "netns", "exec", self.network.name,
            "qemu-system-x86_64", "-accel", "tcg", "-nodefaults", "-display", "none",
            "-m", str(board.memory_mb), *source,
            "-serial", self.uart.board_path,
            "-netdev", f"tap,id=n0,ifname={self.network.tap},script=no,downscript=no,vnet_hdr=off",
            "-device", "virtio-net-pci,netdev=n0,romfile=",
            "-daemonize", "-pidfile", str(self.pid_file),
        ]  # fmt: skip

    def _write_power_scripts(self) -> None:
        pid = shlex.quote(str(self.pid_file))
        alive = f'[ -f {pid} ] && [ -d "/proc/$(cat {pid})" ] && ! grep -q "^State:.Z" "/proc/$(cat {pid})/status"'
        (self.workdir / "power-on.sh").write_text(
            "# The twin board's power switch, on: start its QEMU, detached (-daemonize).\n"
            f"if {alive}; then exit 0; fi\n"
            f"exec {shlex.join(self.qemu_argv())}\n"
        )
        (self.workdir / "power-off.sh").write_text(
            "# The twin board's power switch, off: kill its QEMU at once (no shutdown, like a cut).\n"
            f"[ -f {pid} ] || exit 0\n"
            f'kill -KILL "$(cat {pid})" 2>/dev/null\n'
            f"while {alive}; do sleep 0.1; done\n"
            f"rm -f {pid}\n"
        )

    def power_on(self) -> None:
        self._power("on")

    def power_off(self) -> None:
        self._power("off")

    def _power(self, what: str) -> None:
        script = self.workdir / f"power-{what}.sh"
        if not script.exists():
            return
        done = subprocess.run(
            ["sh", str(script)],
            capture_output=True,
            text=True,
            timeout=POWER_TIMEOUT_S,
            start_new_session=True,
        )
        if done.returncode != 0:
            raise HarnessSetupError(f"twin power {what} failed: {done.stdout[-300:]}{done.stderr[-300:]}")

    @property
    def board_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    @contextmanager
    def raw_console(self) -> Iterator[Any]:
        """The lab side of the serial as a plain pyserial port, for putting the board in a state."""
        import serial

        port = serial.serial_for_url(self.console_url, baudrate=115200, timeout=0.2)
        try:
            yield port
        finally:
            port.close()


def reference_profile_data(variant: str) -> dict[str, Any]:
    """The shipped reference profile's declarations (manifest path made absolute), for a twin."""
    source = ROOT / f"device_profiles/qemu-reference-{variant}.yaml"
    data = yaml.safe_load(source.read_text())
    policy = data.get("update_policy") or {}
    if policy.get("update_manifest"):
        policy["update_manifest"] = str((source.parent / policy["update_manifest"]).resolve())
    data.pop("console", None)
    return data


# The twins carry the maker's update packages, so FS38-03 is decided on them as on a lab's board.
MAKER_PACKAGES_ON_TWIN = True


def add_maker_update_packages(
    profile: dict[str, Any], variant: str, hardenings: tuple[str, ...], out_dir: Path
) -> None:
    """Name in `profile` what the twin's maker hands a lab: a valid signed update package newer than
    the running firmware, an older valid one, and how the device takes an update (`hilsec image
    packages` does the same from the command line). Both are signed with the image's own identity;
    the harness itself holds no key for the twin, so every invalid package is derived from these."""
    from harness.emulation import build_image
    from harness.updates.maker import reference_packages

    image = build_image(variant, hardenings=hardenings or None)
    profile["updates"] = reference_packages(image, out_dir).profile_section()


# The full-suite twins: name -> (image, console, hardening knobs). The hardened twin is also the
# console-lockout knob's run: a bench board with brute-force protection, as EN 303 645 5.1-5 asks of
# real devices; its verdicts must still be the emulated hardened image's (one run proves both, and
# keeps the CI budget). The vulnerable twin's console goes through ser2net (rfc2217://).
REFERENCE_TWINS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "twin-hardened": ("hardened", "pty", ("console-lockout",)),
    "twin-vulnerable": ("vulnerable", "rfc2217", ()),
}
# `make test` (CI) runs the hardened twin only, to keep within its budget; `make bench-twins`
# (HILSEC_BOTH_TWINS=1) runs both. The console over ser2net is also proven by tests/test_bench_path.py.
BOTH_TWINS = os.environ.get("HILSEC_BOTH_TWINS") == "1"
TWINS_IN_THIS_RUN = tuple(name for name in REFERENCE_TWINS if BOTH_TWINS or name == "twin-hardened")
LOCKOUT_SECONDS_DECLARED = 10  # what the lockout board's maker declares (profile login.lockout_seconds)


def reference_board(
    variant: str,
    *,
    hardenings: tuple[str, ...] = (),
    weaknesses: list[str] | None = None,
    memory_mb: int = 256,
) -> TwinBoard:
    """A twin board booting the reference image `variant` (built or taken from the cache)."""
    from harness.emulation import build_image

    image = build_image(variant, weaknesses=weaknesses, hardenings=hardenings or None)
    return TwinBoard(kernel=image.kernel, initrd=image.initrd, append=image.append, memory_mb=memory_mb)


@contextmanager
def start_reference_twins(workdir: Path, *, enabled: bool = True) -> Iterator[dict[str, BenchTwin]]:
    """The bench twins of both reference images, set up (boards off) for a block; {} when not enabled."""
    twins: dict[str, BenchTwin] = {}
    try:
        if enabled:
            for name in TWINS_IN_THIS_RUN:
                variant, console, hardenings = REFERENCE_TWINS[name]
                board = reference_board(variant, hardenings=hardenings)
                profile = reference_profile_data(variant)
                if "console-lockout" in hardenings:
                    profile["login"]["lockout_seconds"] = LOCKOUT_SECONDS_DECLARED
                add_maker_update_packages(profile, variant, hardenings, workdir / name / "maker-packages")
                twin = BenchTwin(name, workdir / name, board, console=console, profile_base=profile)
                twins[name] = twin.start()
        yield twins
    finally:
        for twin in twins.values():
            twin.stop()
