"""A U-Boot board on a bench, the way a lab attaches one: Debian's qemu_arm64 U-Boot in
qemu-system-aarch64, its UART on a pty (a plain device path), power by shell commands.

The board knows nothing of hilsec: the lab config this module writes names the pty under
`serial_ports` and gives `power: {on, off}` commands that start QEMU (daemonized, pid file) and
kill it. What differs between boards is their flash: `-bios` U-Boot in bank 0, and in bank 1 an
environment image written with mkenvimage (u-boot-tools), optionally followed by a FIT image
(at FIT_FLASH_OFFSET, memory-mapped at FIT_FLASH_ADDRESS), and optionally a control device tree
(`-dtb`) carrying the public key that signed FIT images must verify against.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

UBOOT_BIN = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
QEMU = "qemu-system-aarch64"
ENV_SIZE = 0x40000  # CONFIG_ENV_SIZE of Debian's qemu_arm64 build: env at 0x04000000
PFLASH_SIZE = 64 * 1024 * 1024  # the virt board's flash banks are 64 MiB each
FLASH_BANK_1 = 0x04000000
FIT_FLASH_OFFSET = 0x100000
FIT_FLASH_ADDRESS = FLASH_BANK_1 + FIT_FLASH_OFFSET
SPIN_PAYLOAD_ADDR = 0x40200000
AARCH64_BRANCH_TO_SELF = 0x14000000  # `b .`: a one-instruction stand-in for an operating system
POWER_TIMEOUT_S = 20
STOP_WAIT_TENTHS = 50

# bootdelay=-2: autoboot at once and never listen for keys; bootcmd hands over to the spin payload.
LOCKED_ENV = {
    "bootdelay": "-2",
    "bootcmd": f"mw.l {SPIN_PAYLOAD_ADDR:#x} {AARCH64_BRANCH_TO_SELF:#x}; go {SPIN_PAYLOAD_ADDR:#x}",
}


def have_uboot_bench() -> bool:
    return UBOOT_BIN.is_file() and shutil.which(QEMU) is not None and shutil.which("mkenvimage") is not None


def make_env_flash(directory: Path, variables: dict[str, str], *, name: str = "env-flash.img") -> Path:
    """A 64 MiB pflash image whose first ENV_SIZE bytes are a U-Boot environment (mkenvimage)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = directory / f"{name}.txt"
    text.write_text("".join(f"{key}={value}\n" for key, value in variables.items()))
    image = directory / name
    subprocess.run(["mkenvimage", "-s", str(ENV_SIZE), "-o", str(image), str(text)], check=True, timeout=10)
    with image.open("r+b") as file:
        file.truncate(PFLASH_SIZE)
    return image


def write_fit(flash: Path, fit: bytes) -> None:
    """Put a FIT image into bank 1 at FIT_FLASH_OFFSET (what a flash programmer does)."""
    if FIT_FLASH_OFFSET + len(fit) > PFLASH_SIZE:
        raise ValueError("the FIT image does not fit in the flash bank")
    with flash.open("r+b") as file:
        file.seek(FIT_FLASH_OFFSET)
        file.write(fit)


@dataclass
class UbootBoard:
    """One board: its flash images and where its UART connects; `lab_config()` describes the bench."""

    directory: Path
    uart_socket: Path
    env_flash: Path | None = None
    control_dtb: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return self.directory / "qemu.pid"

    def qemu_argv(self) -> list[str]:
        argv = [QEMU, "-machine", "virt", "-cpu", "cortex-a57", "-m", "256", "-accel", "tcg"]
        argv += ["-display", "none", "-monitor", "none", "-nic", "none"]
        argv += ["-chardev", f"socket,id=uart,path={self.uart_socket}", "-serial", "chardev:uart"]
        argv += ["-bios", str(UBOOT_BIN)]
        if self.env_flash is not None:
            argv += ["-drive", f"if=pflash,unit=1,format=raw,file={self.env_flash}"]
        if self.control_dtb is not None:
            argv += ["-dtb", str(self.control_dtb)]
        return argv + ["-daemonize", "-pidfile", str(self.pid_file)]

    def power_commands(self) -> dict[str, Any]:
        pid = shlex.quote(str(self.pid_file))
        off = (
            f"pid=$(cat {pid} 2>/dev/null) || exit 0; kill $pid 2>/dev/null; i=0; "
            f"while kill -0 $pid 2>/dev/null && [ $i -lt {STOP_WAIT_TENTHS} ]; do sleep 0.1; i=$((i+1)); done; "
            f"rm -f {pid}"
        )
        return {
            "on": shlex.join(self.qemu_argv()),
            "off": off,
            "off_seconds": 0.2,
            "timeout_s": POWER_TIMEOUT_S,
        }

    def lab_config(self, console_device: str, name: str = "uboot-bench") -> dict[str, Any]:
        return {
            "kind": "lab-config",
            "name": name,
            "serial_ports": {"board-console": {"url": console_device, "baudrate": 115200}},
            "power": self.power_commands(),
            "capture": {"method": "none"},
            "timeouts": {"command_s": 10, "login_s": 20},
            **self.extra,
        }

    def write_lab_config(self, console_device: str, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.lab_config(console_device), sort_keys=False))
        return path

    def power_off(self) -> None:
        """Kill a QEMU left running (a run that was interrupted)."""
        subprocess.run(["sh", "-c", self.power_commands()["off"]], timeout=POWER_TIMEOUT_S, check=False)


FIT_LOAD_ADDRESS = 0x48000000
FIT_MAX_SIZE = 0x100000
FIT_KEY_NAME = "dev"
FIT_SOURCE = """/dts-v1/;
/ {{
    description = "board firmware (spin payload standing in for the OS)";
    #address-cells = <1>;
    images {{
        kernel {{
            description = "spin";
            data = /incbin/("{payload}");
            type = "kernel";
            arch = "arm64";
            os = "linux";
            compression = "none";
            load = <{load:#x}>;
            entry = <{load:#x}>;
            hash-1 {{ algo = "sha256"; }};
        }};
    }};
    configurations {{
        default = "conf-1";
        conf-1 {{
            kernel = "kernel";
            signature-1 {{ algo = "sha256,rsa2048"; key-name-hint = "{key}"; sign-images = "kernel"; }};
        }};
    }};
}};
"""
# Verified boot from flash: copy the FIT to RAM and boot its configuration (with the board's own
# device tree for the "kernel"); nothing else on failure.
FIT_ENV = {
    "bootdelay": "-2",
    "bootcmd": f"cp.b {FIT_FLASH_ADDRESS:#x} {FIT_LOAD_ADDRESS:#x} {FIT_MAX_SIZE:#x}; "
    f"bootm {FIT_LOAD_ADDRESS:#x}#conf-1 - ${{fdtcontroladdr}}",
}


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, timeout=60, capture_output=True)


def make_fit_board(directory: Path, *, key_required: bool) -> tuple[UbootBoard, Path]:
    """A board that boots a signed FIT from flash; its control DTB holds the public key as
    `required` (verified boot) or holds no key at all (the weakness: any FIT boots).
    Returns the board and the maker's signed FIT (what the profile names)."""
    directory.mkdir(parents=True, exist_ok=True)
    board = UbootBoard(directory, directory / "uart.sock")
    machine_dtb = directory / "virt.dtb"
    argv = board.qemu_argv()
    machine = argv.index("virt")
    argv[machine] = f"virt,dumpdtb={machine_dtb}"
    _run([a for a in argv[: argv.index("-chardev")]])  # QEMU writes the DTB it gives U-Boot and exits
    keys = directory / "maker-keys"
    keys.mkdir(exist_ok=True)
    _run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(keys / f"{FIT_KEY_NAME}.key"),
        ]
    )
    _run(["openssl", "req", "-batch", "-new", "-x509", "-key", str(keys / f"{FIT_KEY_NAME}.key"),
          "-subj", "/CN=board maker", "-out", str(keys / f"{FIT_KEY_NAME}.crt")])  # fmt: skip
    payload = directory / "spin.bin"
    payload.write_bytes(AARCH64_BRANCH_TO_SELF.to_bytes(4, "little"))
    source = directory / "board.its"
    source.write_text(FIT_SOURCE.format(payload=payload, load=SPIN_PAYLOAD_ADDR, key=FIT_KEY_NAME))
    control = directory / "control.dtb"
    shutil.copyfile(machine_dtb, control)
    fit = directory / "board.itb"
    _run(["mkimage", "-f", str(source), "-K", str(control), "-k", str(keys), "-r", str(fit)])
    board.control_dtb = control if key_required else machine_dtb
    board.env_flash = make_env_flash(directory, FIT_ENV)
    write_fit(board.env_flash, fit.read_bytes())
    board.extra["boot_media"] = {
        "write": f"dd if={{image}} of={shlex.quote(str(board.env_flash))} bs=4096 seek={FIT_FLASH_OFFSET // 4096} "
        "conv=notrunc status=none",
        "timeout_s": 20,
    }
    return board, fit
