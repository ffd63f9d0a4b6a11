"""One bounded boot attempt of an ESP under OVMF in QEMU, with the console recorded.

QEMU is always killed when the attempt ends: as soon as `stop_when` says the console output
is decisive (plus a short grace period, so a refusal that is followed by a boot anyway is seen),
or when the time limit is reached. No network device is given, so the firmware cannot wander
off into a network boot (LAB_NOTES: ~250 s of PXE otherwise).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessSetupError
from harness.secureboot.firmware import FirmwareFiles
from harness.util.processes import stop_process

QEMU_BINARY = "qemu-system-x86_64"
DEFAULT_TIMEOUT_S = 20.0
GRACE_S = 1.5
KILL_TIMEOUT_S = 5.0
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1bc")


@dataclass(frozen=True)
class BootAttempt:
    """What the console showed during one boot attempt."""

    console: str  # escapes removed, \r dropped
    seconds: float
    timed_out: bool
    log_path: Path
    command: list[str]


def clean_console(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return ANSI_ESCAPE.sub("", text).replace("\r", "")


def qemu_command(firmware: FirmwareFiles, esp: Path, *, memory_mb: int = 512) -> list[str]:
    """Q35 with SMM (OVMF's Secure Boot build needs it), firmware in pflash, the ESP first."""
    fat = "fat:rw:" + str(esp).replace(",", ",,")
    return [
        QEMU_BINARY, "-machine", "q35,smm=on", "-accel", "tcg", "-m", str(memory_mb),
        "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        "-global", "driver=cfi.pflash01,property=secure,value=on",
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={firmware.code}",
        "-drive", f"if=pflash,format=raw,unit=1,file={firmware.vars}",
        "-drive", f"if=none,id=esp,format=raw,file={fat}",
        "-device", "virtio-blk-pci,drive=esp,bootindex=0", "-boot", "strict=on",
        "-nic", "none",
    ]  # fmt: skip


def boot_esp(
    firmware: FirmwareFiles,
    esp: Path,
    log_path: Path,
    *,
    stop_when: Callable[[str], bool],
    timeout: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = 512,
) -> BootAttempt:
    """Power on, read the serial console until `stop_when(console)` or `timeout`, power off."""
    if shutil.which(QEMU_BINARY) is None:
        raise HarnessSetupError(f"{QEMU_BINARY} not found (Debian package qemu-system-x86)")
    argv = qemu_command(firmware, esp, memory_mb=memory_mb)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    raw = bytearray()
    started = time.monotonic()
    deadline = started + timeout
    decided_at: float | None = None
    timed_out = True
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        while True:
            now = time.monotonic()
            if decided_at is not None and now >= decided_at + GRACE_S:
                timed_out = False
                break
            if now >= deadline:
                break
            ready, _, _ = select.select([fd], [], [], min(0.2, deadline - now))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:  # QEMU exited (e.g. -no-reboot after a reset)
                    timed_out = False
                    break
                raw += chunk
                if decided_at is None and stop_when(clean_console(bytes(raw))):
                    decided_at = time.monotonic()
    finally:
        stop_process(process, KILL_TIMEOUT_S, graceful=False)
        if process.stdout is not None:
            process.stdout.close()
        log_path.write_bytes(bytes(raw))
    return BootAttempt(
        console=clean_console(bytes(raw)),
        seconds=time.monotonic() - started,
        timed_out=timed_out and decided_at is None,
        log_path=log_path,
        command=argv,
    )
