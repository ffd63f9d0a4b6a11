"""QemuMachine: an emulated device the harness can power on, off and cycle like a bench supply.

The serial console is a unix socket in `workdir` (QEMU's chardev server with wait=on: the guest
does not start until the harness connects, so nothing it prints is lost), QMP on another socket
does power control, user-mode networking forwards the requested guest ports to free host ports on
127.0.0.1, and filter-dump writes every guest packet to a pcap file without root. On a lab
network (harness.lab.network) the NIC is instead a tap in the lab's namespace, QEMU runs inside that
namespace, and filter-dump still writes the capture (the same file and format in both modes).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessSetupError
from harness.lab.side import LabSide
from harness.util.deadlines import wait_until
from harness.util.ports import free_port
from harness.util.processes import stop_process

if TYPE_CHECKING:
    from harness.transports.stream import ByteStream

QEMU_BINARY = "qemu-system-x86_64"
START_TIMEOUT_S = 15.0
QMP_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
KVM_PROBE_TIMEOUT_S = 10.0  # a working KVM panics for want of a root fs in ~1 s
PORT_RETRIES = 3
LOG_TAIL_LINES = 15
ACCELERATORS = ("tcg", "kvm", "auto")

_kvm_probe_results: dict[tuple[str, str], bool] = {}
_kvm_probe_lock = threading.Lock()


def qemu_option_value(value: str | Path) -> str:
    """A value inside a QEMU -option list: commas are doubled so they are not separators."""
    return str(value).replace(",", ",,")


def kvm_usable(kernel: Path, qemu: str = QEMU_BINARY, timeout: float = KVM_PROBE_TIMEOUT_S) -> bool:
    """Whether a KVM guest really boots here (LAB_NOTES: /dev/kvm can exist and still fail).

    The probe boots `kernel` without an initrd under KVM; a kernel that gets as far as
    looking for its root file system and panics proves KVM runs real code (here KVM hangs
    without a byte of output, so a timeout decides). The result is cached for the process.
    """
    key = (qemu, str(kernel))
    with _kvm_probe_lock:
        if key in _kvm_probe_results:
            return _kvm_probe_results[key]
        memo = _probe_memo_path(qemu)
        try:
            result = bool(json.loads(memo.read_text())[str(kernel)]) if memo else None
        except (OSError, ValueError, KeyError, TypeError):
            result = None
        if result is None:
            usable = os.access("/dev/kvm", os.R_OK | os.W_OK) and shutil.which(qemu) is not None
            result = usable and probe_boot(kernel, "kvm", qemu, timeout)
            _remember_probe(memo, str(kernel), result)
        _kvm_probe_results[key] = result
        return result


def _probe_memo_path(qemu: str) -> Path | None:
    """Per host boot and QEMU binary: a failed probe costs its full timeout, so later processes
    of the same boot reuse the answer instead of paying it again."""
    binary = shutil.which(qemu)
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stamp = os.stat(binary).st_mtime_ns if binary else 0
    except OSError:
        return None
    name = f"hilsec-kvm-probe-{os.getuid()}-{boot_id}-{stamp}.json"
    return Path(tempfile.gettempdir()) / name


def _remember_probe(memo: Path | None, kernel: str, result: bool) -> None:
    if memo is None:
        return
    try:
        known = json.loads(memo.read_text()) if memo.exists() else {}
        known[kernel] = result
        partial = memo.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(known))
        partial.replace(memo)
    except (OSError, ValueError):
        pass


def probe_boot(
    kernel: Path, accel: str, qemu: str = QEMU_BINARY, timeout: float = KVM_PROBE_TIMEOUT_S
) -> bool:
    """Whether `kernel` boots under `accel` far enough to panic for want of a root file system."""
    with tempfile.TemporaryDirectory(prefix="hilsec-kvm-probe-") as scratch:
        console = Path(scratch) / "console.log"
        argv = [
            qemu, "-accel", accel, "-nodefaults", "-display", "none", "-m", "128", "-no-reboot",
            "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1",
            "-serial", f"file:{qemu_option_value(console)}",
        ]  # fmt: skip
        try:
            probe = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError:
            return False

        def ended() -> str:
            text = console.read_text(errors="replace") if console.exists() else ""
            if "Kernel panic" in text or "VFS: Unable to mount root" in text:
                return "panicked"
            return "exited" if probe.poll() is not None else ""

        try:
            outcome = wait_until(ended, timeout, 0.1)
        finally:
            if stop_process(probe, STOP_TIMEOUT_S, graceful=False) is None:
                raise subprocess.TimeoutExpired(probe.args, STOP_TIMEOUT_S)
        return outcome == "panicked"


class QmpClient:
    """A minimal QMP (QEMU Machine Protocol) client over a unix socket."""

    def __init__(self, path: Path, timeout: float = QMP_TIMEOUT_S) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(str(path))
        self._buffer = b""
        self._read_message()  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments: object) -> dict:
        request: dict = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._sock.sendall(json.dumps(request).encode() + b"\r\n")
        while True:
            message = self._read_message()
            if "return" in message:
                return message["return"]
            if "error" in message:
                raise HarnessSetupError(f"QMP {command} failed: {message['error']}")

    def _read_message(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP socket closed")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        self._sock.close()


class QemuMachine:
    """One emulated x86_64 device. Each power_on starts a fresh QEMU process.

    Files in workdir: serial.sock (ttyS0), serial.log (everything ttyS0 printed, all boots
    appended), qmp.sock, qemu.log (QEMU's stderr, all boots appended), and one capture per
    boot: capture.pcap for the first, capture-boot2.pcap, ... after; `pcap_path` names the
    current boot's file and `pcap_paths` all of them.

    With wait=on the guest starts only once a client connects to the serial socket: call
    serial_stream() (or connect to `serial_socket_path`) right after power_on. Pass
    `serial_wait=False` for a guest that runs without anyone on its console.
    """

    GUEST_HOST_ADDRESS = "10.0.2.2"

    def __init__(
        self,
        *,
        kernel: Path | None,
        initrd: Path | None,
        append: str,
        workdir: Path,
        disk: Path | None = None,
        memory_mb: int = 256,
        accel: str = "auto",
        forwards: Sequence[tuple[str, int]] = (),
        capture: bool = True,
        extra_args: Sequence[str] = (),
        serial_wait: bool = True,
        qemu_binary: str = QEMU_BINARY,
        tap: str | None = None,
        netns: str | None = None,
        extra_serial: Sequence[str] = (),
    ) -> None:
        if accel not in ACCELERATORS:
            raise ValueError(f"accel must be one of {', '.join(ACCELERATORS)}, not {accel!r}")
        for protocol, port in forwards:
            if protocol not in ("tcp", "udp") or not 0 < port < 65536:
                raise ValueError(f"bad forward {protocol}:{port}; expected ('tcp'|'udp', 1..65535)")
        if disk is None and not kernel:
            raise ValueError("a QEMU machine boots a kernel (with an optional initrd) or a disk image")
        self.disk = Path(disk) if disk is not None else None
        self.kernel = Path(kernel) if kernel and self.disk is None else None
        self.initrd = Path(initrd) if initrd and self.disk is None else None
        self.append = append
        self.workdir = Path(workdir)
        self.memory_mb = memory_mb
        self.accel = accel
        self.forwards = list(dict.fromkeys(forwards))
        self.capture = capture
        self.extra_args = list(extra_args)
        self.serial_wait = serial_wait
        self.qemu_binary = qemu_binary
        # A lab network (harness.lab.network): the NIC on this tap, QEMU started inside this namespace.
        self.tap = tap
        self.netns = netns
        if tap and self.forwards:
            raise ValueError("forwards are for user-mode networking; a tap NIC is reached directly")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if capture and "," in str(self.workdir):
            raise HarnessSetupError(f"workdir {self.workdir} contains a comma, which filter-dump cannot take")
        # More serial ports after ttyS0 (ttyS1, ...): each a unix socket server that does not wait,
        # for a device attached to the guest such as the emulated cellular module.
        self.extra_serial = list(extra_serial)
        self.serial_socket_path = self.workdir / "serial.sock"
        self.serial_log_path = self.workdir / "serial.log"
        self.qmp_socket_path = self.workdir / "qmp.sock"
        self.log_path = self.workdir / "qemu.log"
        self.pcap_path: Path | None = None
        self.pcap_paths: list[Path] = []
        self.pcap_started: float | None = None  # time.time() the current pcap_path began
        self.boots = 0
        self.boot_started: float | None = None  # time.monotonic() of the last power_on
        self._ports: dict[tuple[str, int], int] = {}
        self._process: subprocess.Popen | None = None
        self._accel_used: str | None = None
        self._streams: list[ByteStream] = []

    # -- power ---------------------------------------------------------------------------------
    def power_on(self) -> None:
        """Start QEMU (no-op when it is running); HarnessSetupError if it dies while starting."""
        if self.is_running():
            return
        accel = self._choose_accel()
        for attempt in range(PORT_RETRIES):
            if attempt or not self._ports:
                self._ports = {(proto, port): free_port(proto) for proto, port in self.forwards}
            self.boots += 1
            if self.capture:
                name = "capture.pcap" if self.boots == 1 else f"capture-boot{self.boots}.pcap"
                self.pcap_path = self.workdir / name
                self.pcap_path.unlink(missing_ok=True)
                self.pcap_paths.append(self.pcap_path)
                self.pcap_started = time.time()
            try:
                self._start(accel)
                return
            except _PortInUse:
                continue
        raise HarnessSetupError(f"QEMU could not bind its forwarded ports after {PORT_RETRIES} tries")

    def power_off(self) -> None:
        """Stop QEMU: QMP quit, then SIGTERM, then SIGKILL, each with a timeout."""
        process = self._process
        for stream in self._streams:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - a broken stream must not stop the power-off
                pass
        self._streams.clear()
        if process is None:
            return
        if process.poll() is None:
            try:
                qmp = QmpClient(self.qmp_socket_path)
                try:
                    qmp.execute("quit")
                finally:
                    qmp.close()
            except (OSError, ConnectionError, HarnessSetupError, ValueError):
                pass
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                if stop_process(process, STOP_TIMEOUT_S) is None:
                    raise subprocess.TimeoutExpired(process.args, STOP_TIMEOUT_S) from None
        self._process = None
        self._close_log()

    def power_cycle(self) -> None:
        self.power_off()
        self.power_on()

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- access --------------------------------------------------------------------------------
    def serial_stream(self) -> ByteStream:
        """A new stream on the guest's ttyS0 (the first connection after power_on starts the guest)."""
        if not self.is_running():
            raise HarnessSetupError("QEMU is not running: power_on() first")
        from harness.transports.stream import UnixSocketStream

        stream = UnixSocketStream(str(self.serial_socket_path))
        self._streams.append(stream)
        return stream

    def host_port(self, protocol: str, guest_port: int) -> int:
        """The 127.0.0.1 port that reaches guest_port (it may change when QEMU restarts)."""
        if self.tap:
            raise KeyError(f"{protocol}/{guest_port}: a tap NIC has no host forwards; use the guest address")
        try:
            return self._ports[(protocol, guest_port)]
        except KeyError:
            raise KeyError(f"{protocol}/{guest_port} is not forwarded; forwards: {self.forwards}") from None

    def command_line(self, accel: str | None = None) -> list[str]:
        """The argv of the next QEMU start."""
        accel = accel or self._accel_used or "tcg"
        serial_wait = "on" if self.serial_wait else "off"
        forwards = "".join(
            f",hostfwd={proto}:127.0.0.1:{self._ports[(proto, port)]}-:{port}"
            for proto, port in self.forwards
        )
        argv = [
            self.qemu_binary, "-accel", accel, "-nodefaults", "-display", "none",
            "-m", str(self.memory_mb),
            *self._boot_source(),
            # QMP first: with wait=on QEMU blocks on the serial socket until a client connects.
            "-chardev", f"socket,id=qmp0,path={qemu_option_value(self.qmp_socket_path)},server=on,wait=off",
            "-mon", "chardev=qmp0,mode=control",
            "-chardev",
            f"socket,id=ser0,path={qemu_option_value(self.serial_socket_path)},server=on,"
            f"wait={serial_wait},logfile={qemu_option_value(self.serial_log_path)},logappend=on",
            "-serial", "chardev:ser0",
            *self._extra_serial_args(),
            "-netdev", self._netdev(forwards),
            "-device", "virtio-net-pci,netdev=n0,romfile=",
        ]  # fmt: skip
        if self.netns:
            argv = LabSide(self.netns).command(argv)
        if self.capture and self.pcap_path:
            argv += ["-object", f"filter-dump,id=f0,netdev=n0,file={self.pcap_path}"]
        return argv + self.extra_args

    def extra_serial_path(self, name: str) -> Path:
        """The unix socket of an extra serial port (`extra_serial` names them, ttyS1 first)."""
        if name not in self.extra_serial:
            raise KeyError(f"{name}: not an extra serial port of this machine ({self.extra_serial})")
        return self.workdir / f"{name}.sock"

    # -- internals -----------------------------------------------------------------------------
    def _extra_serial_args(self) -> list[str]:
        args: list[str] = []
        for index, name in enumerate(self.extra_serial, start=1):
            path = qemu_option_value(self.extra_serial_path(name))
            args += [
                "-chardev",
                f"socket,id=ser{index},path={path},server=on,wait=off",
                "-serial",
                f"chardev:ser{index}",
            ]
        return args

    def _boot_source(self) -> list[str]:
        """-kernel/-initrd/-append, or a disk image the firmware boots (snapshot: never written)."""
        if self.disk is not None:
            fmt = "qcow2" if _is_qcow2(self.disk) else "raw"
            drive = f"file={qemu_option_value(self.disk)},format={fmt},if=virtio,snapshot=on"
            return ["-drive", drive, "-boot", "c"]
        argv = ["-kernel", str(self.kernel)]
        if self.initrd is not None:
            argv += ["-initrd", qemu_option_value(self.initrd)]
        return [*argv, "-append", self.append]

    def _netdev(self, forwards: str) -> str:
        if self.tap:
            # vnet_hdr=off: with it, filter-dump would write a virtio-net header before every frame.
            return f"tap,id=n0,ifname={qemu_option_value(self.tap)},script=no,downscript=no,vnet_hdr=off"
        return f"user,id=n0{forwards}"

    def _choose_accel(self) -> str:
        if self.accel == "auto":
            if self.kernel is None:
                return "tcg"  # the probe boots a kernel; a disk image is not probed
            return "kvm" if kvm_usable(self.kernel, self.qemu_binary) else "tcg"
        return self.accel

    def _start(self, accel: str) -> None:
        if shutil.which(self.qemu_binary) is None:
            raise HarnessSetupError(f"{self.qemu_binary} not found; install qemu-system-x86")
        for path in (self.kernel, self.initrd, self.disk):
            if path is not None and not path.is_file():
                # With wait=on QEMU reads these only after the console connects: check them now.
                raise HarnessSetupError(f"{path} does not exist; build the image first")
        for path in (
            self.serial_socket_path,
            self.qmp_socket_path,
            *map(self.extra_serial_path, self.extra_serial),
        ):
            path.unlink(missing_ok=True)
        if self.netns:
            LabSide(self.netns).check()  # a deleted name of this run's namespace is given back
        argv = self.command_line(accel)
        log = self.log_path.open("ab")
        log.write(f"--- boot {self.boots}: {' '.join(argv)}\n".encode())
        log.flush()
        self._log = log
        self._accel_used = accel
        self.boot_started = time.monotonic()
        self._log_offset = log.tell()
        self._process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        process = self._process

        def listening() -> bool:
            if process.poll() is not None:
                tail = self._log_tail()
                self._process = None
                self._close_log()
                if "host forwarding rule" in tail or "Address already in use" in tail:
                    raise _PortInUse(tail)
                raise HarnessSetupError(f"QEMU exited at start; {self.log_path}:\n{tail}")
            return self._sockets_ready()

        if wait_until(listening, START_TIMEOUT_S, 0.02):
            return
        tail = self._log_tail()
        self.power_off()
        raise HarnessSetupError(f"QEMU did not open its sockets in {START_TIMEOUT_S:.0f} s:\n{tail}")

    def _sockets_ready(self) -> bool:
        """Both sockets listen: a socket file appears at bind(), before listen(), so look further."""
        if not (self.serial_socket_path.exists() and self.qmp_socket_path.exists()):
            return False
        if self.serial_wait:
            # Printed after listen(), right before QEMU blocks waiting for the console client.
            return "QEMU waiting for connection on" in self._log_tail()
        try:
            QmpClient(self.qmp_socket_path).close()
        except (OSError, ConnectionError, ValueError):
            return False
        return True

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(getattr(self, "_log_offset", 0))
                lines = handle.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
            self._log = None

    def __enter__(self) -> QemuMachine:
        self.power_on()
        return self

    def __exit__(self, *exc: object) -> None:
        self.power_off()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "off"
        source = (self.kernel or self.disk or Path("?")).name
        return f"QemuMachine({source}, {state}, workdir={self.workdir})"


def _is_qcow2(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"QFI\xfb"
    except OSError:
        return False


class _PortInUse(HarnessSetupError):
    """QEMU lost the race for a forwarded host port; power_on retries with new ports."""
