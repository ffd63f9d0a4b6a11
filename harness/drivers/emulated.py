"""An emulated board: a device profile with `console.qemu`, booted by the harness in QEMU.

One `EmulatedBoard` per device holds the QemuMachine; its power, console, capture and firmware
files are the capabilities below, each a thin view of the board. The board's NIC is on the lab
network the emulated network driver chose (harness/drivers/emulated_network.py), and the
reference image is built (or taken from the cache) when the device starts, before any boot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capabilities import Capture, ConsolePort, FirmwareFiles, Power, UpdateSigning
from harness.device.registry import BuildContext, provides
from harness.drivers.emulated_network import EMULATED_NETWORK, EmulatedNetwork, forwarded_ports
from harness.drivers.qemu import QemuMachine
from harness.errors import DeviceError, HarnessSetupError
from harness.transports.stream import ByteStream

BOARD = "emulated-board"


@dataclass
class BootFiles:
    kernel: Path
    initrd: Path | None
    append: str
    disk: Path | None = None


class EmulatedBoard:
    """The QEMU machine of one emulated device, made when the device starts."""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx
        self.qemu = ctx.profile.console.qemu
        self.machine: QemuMachine | None = None
        self.reference_image: Any = None
        self.boot_files: BootFiles | None = None
        # What other drivers attach to the board before it starts: more serial ports (ttyS1, ...)
        # and kernel command line words (a device's provisioning, e.g. the emulated module's).
        self.extra_serial: list[str] = []
        self.boot_word_sources: list[Callable[[], list[str]]] = []

    def files(self) -> BootFiles:
        """What the board boots; the reference image is built (or taken from the cache) on first use."""
        if self.boot_files is None:
            self.boot_files = self._boot_files()
        return self.boot_files

    def start(self) -> None:
        """Build the image (packages are downloaded here, on the host's network) and the machine."""
        if self.machine is not None:
            return
        self.files()
        network: EmulatedNetwork = self.ctx.share(EMULATED_NETWORK, lambda: EmulatedNetwork(self.ctx))
        lab = self.ctx.lab
        self.machine = QemuMachine(
            kernel=self.boot_files.kernel,
            initrd=self.boot_files.initrd,
            disk=self.boot_files.disk,
            append=self.boot_files.append,
            workdir=self.ctx.workdir / "qemu",
            memory_mb=int(lab.qemu.memory_mb),
            accel=str(lab.qemu.accel),
            forwards=forwarded_ports(self.ctx.profile) if network.mode == "user" else (),
            capture=True,
            tap=network.tap,
            netns=network.namespace,
            extra_serial=self.extra_serial,
        )

    def append_words(self) -> str:
        """The kernel command line of the next boot: the image's own, then where the lab is."""
        assert self.boot_files is not None
        network: EmulatedNetwork = self.ctx.shared[EMULATED_NETWORK]
        words = [*self.ctx.boot_words(), *network.boot_words()]
        words += [word for source in self.boot_word_sources for word in source()]
        return " ".join([self.boot_files.append, *words]).strip()

    def require_machine(self) -> QemuMachine:
        if self.machine is None:
            raise HarnessSetupError("the emulated board is not started")
        return self.machine

    def _boot_files(self) -> BootFiles:
        qemu = self.qemu
        if qemu.reference_image:
            from harness.emulation import image_for_profile

            self.ctx.progress(
                f"reference image '{qemu.reference_image}': building or taking it from the cache"
            )
            image = image_for_profile(self.ctx.profile, self.ctx.lab, progress=self.ctx.progress)
            self.reference_image = image
            return BootFiles(image.kernel, image.initrd, image.append)
        if qemu.kernel:
            initrd = Path(qemu.initrd) if qemu.initrd else None
            return BootFiles(Path(qemu.kernel), initrd, str(qemu.append or "console=ttyS0"))
        if qemu.disk:
            return BootFiles(Path(), None, "", disk=Path(qemu.disk))
        raise DeviceError("profile console.qemu needs reference_image, kernel or disk")

    def stop(self) -> None:
        if self.machine is not None:
            try:
                self.machine.power_off()
            except HarnessSetupError:
                pass


def _board(ctx: BuildContext) -> EmulatedBoard | None:
    if ctx.profile.console.qemu is None:
        return None
    return ctx.share(BOARD, lambda: EmulatedBoard(ctx))


class QemuPower(Power):
    """Power is the QEMU process: on starts it, off quits it (QMP, then SIGTERM, then SIGKILL)."""

    def __init__(self, board: EmulatedBoard) -> None:
        self.board = board
        self.description = "QEMU (the emulated board's process)"

    def start(self) -> None:
        self.board.start()

    def stop(self) -> None:
        self.board.stop()

    def on(self) -> None:
        machine = self.board.require_machine()
        if not machine.is_running():
            machine.append = self.board.append_words()
            machine.power_on()

    def off(self) -> None:
        self.board.require_machine().power_off()

    def cycle(self) -> None:
        self.off()
        self.on()

    def is_on(self) -> bool | None:
        return self.board.machine is not None and self.board.machine.is_running()


class QemuConsolePort(ConsolePort):
    """The guest's ttyS0 on QEMU's unix socket; QEMU waits for it before the guest runs."""

    def __init__(self, board: EmulatedBoard) -> None:
        self.board = board
        self.description = "QEMU serial ttyS0"

    @property
    def follows_power(self) -> bool:
        return True

    def open(self) -> ByteStream:
        machine = self.board.require_machine()
        if not machine.is_running():
            raise DeviceError("the emulated board is off: its serial console is gone")
        return machine.serial_stream()


class QemuCapture(Capture):
    """QEMU's filter-dump: every guest packet, one pcap file per boot."""

    def __init__(self, board: EmulatedBoard) -> None:
        self.board = board
        self.description = "QEMU filter-dump of the emulated NIC"

    def files(self) -> list[Path]:
        machine = self.board.machine
        return [p for p in machine.pcap_paths if p.exists()] if machine is not None else []

    @property
    def current(self) -> Path | None:
        machine = self.board.machine
        return machine.pcap_path if machine is not None else None

    @property
    def started(self) -> float | None:
        machine = self.board.machine
        return machine.pcap_started if machine is not None else None


class EmulatedFirmware(FirmwareFiles):
    """The files the emulated board boots: what a maker would hand a lab as its firmware."""

    def __init__(self, board: EmulatedBoard) -> None:
        self.board = board
        self.description = "the emulated board's boot files"

    @property
    def initrd(self) -> Path | None:
        return self.board.files().initrd

    @property
    def image(self) -> Path | None:
        explicit = self.board.ctx.profile.firmware_image
        return Path(explicit) if explicit is not None else self.initrd


class ReferenceImageSigning(UpdateSigning):
    """The reference image's signing identity: kept in the image cache, never in the image."""

    def __init__(self, board: EmulatedBoard) -> None:
        self.board = board
        self.description = "the reference image's update signing identity"

    @property
    def identity(self):
        from harness.updates.signing import UPDATE_SIGNING_DIR, load_identity

        image = self.board.reference_image
        return load_identity(image.root / UPDATE_SIGNING_DIR) if image is not None else None


@provides(Power, order=10)
def _power(ctx: BuildContext) -> QemuPower | None:
    board = _board(ctx)
    return QemuPower(board) if board else None


@provides(ConsolePort, order=10)
def _console(ctx: BuildContext) -> QemuConsolePort | None:
    board = _board(ctx)
    return QemuConsolePort(board) if board else None


@provides(Capture, order=10)
def _capture(ctx: BuildContext) -> QemuCapture | None:
    board = _board(ctx)
    if board is None or ctx.lab.capture.method != "qemu-filter-dump":
        return None
    return QemuCapture(board)


@provides(FirmwareFiles, order=10)
def _firmware(ctx: BuildContext) -> EmulatedFirmware | None:
    board = _board(ctx)
    return EmulatedFirmware(board) if board else None


@provides(UpdateSigning, order=10)
def _signing(ctx: BuildContext) -> ReferenceImageSigning | None:
    board = _board(ctx)
    if board is None or not ctx.profile.console.qemu.reference_image:
        return None
    return ReferenceImageSigning(board)
