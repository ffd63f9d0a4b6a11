"""A bootable disk image with a real bootloader: SYSLINUX (Debian's syslinux) on a FAT file system.

For `console.qemu.disk` and for a bootloader prompt on the bench path: SeaBIOS boots the disk,
SYSLINUX waits at its `boot:` prompt on the serial port (PROMPT 1, TIMEOUT 0: no autoboot, as a
board whose bootloader is stopped), and the label `hilsec` loads Debian's kernel (bzImage) with a
small busybox initramfs that offers a serial login. The default entry (what an empty line starts)
names an image that is not on the disk, so a newline sent to wake the console leaves SYSLINUX at
its prompt ("Loading factory-test... failed"), as U-Boot's prompt stays after an empty line: only
the profile's `bootloader.boot_command` boots the system. Built without root or loop devices: mkfs.fat
and mtools write into the image file, `syslinux --install` writes its boot sector.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.util.cpio import CpioWriter

BUSYBOX = "/bin/busybox"
BOOT_LABEL = "hilsec"
ABSENT_DEFAULT = "factory-test"
BOOT_PROMPT = r"boot: ?$"
DISK_MB = 32
TOOL_TIMEOUT_S = 60
TOOLS = ("mkfs.fat", "mcopy", "syslinux")  # Debian packages dosfstools, mtools, syslinux

INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin /tmp /root
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
hostname disk-board
exec /sbin/init
"""
INITTAB = "ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100\n"


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=TOOL_TIMEOUT_S)


def busybox_initrd(password: str) -> bytes:
    """A newc initramfs: static busybox, a root account with `password`, a getty on ttyS0."""
    hashed = subprocess.run(
        [BUSYBOX, "mkpasswd", "-m", "sha512", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    out = io.BytesIO()
    cpio = CpioWriter(out)
    for folder in ("bin", "dev", "etc", "root"):
        cpio.add_directory(folder)
    cpio.add_char_device("dev/console", 5, 1)
    cpio.add_file("bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
    cpio.add_symlink("bin/sh", "busybox")
    cpio.add_file("init", INIT.encode(), 0o755)
    cpio.add_file("etc/inittab", INITTAB.encode())
    cpio.add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    cpio.add_file("etc/shadow", f"root:{hashed}:20000:0:99999:7:::\n".encode(), 0o600)
    cpio.add_file("etc/issue", b"hilsec disk-booted board\n")
    cpio.close()
    return out.getvalue()


def reference_bzimage(image_root: Path, cache: Path, out_dir: Path) -> Path:
    """Debian's compressed kernel (bzImage) of a reference image, from its cached kernel package."""
    import json

    from harness.emulation.debs import unpack

    package = json.loads((image_root / "image.json").read_text())["kernel_package"]
    deb = next((cache / "debs").glob(f"{package}_*.deb"))
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        unpack(deb, Path(scratch))
        vmlinuz = next(Path(scratch, "boot").glob("vmlinuz-*"))
        target = out_dir / "vmlinuz"
        shutil.copyfile(vmlinuz, target)
    return target


def syslinux_disk(out: Path, kernel: Path, initrd: bytes, append: str = "console=ttyS0,115200") -> Path:
    """A raw disk image: FAT with SYSLINUX, stopped at `boot:`; label `hilsec` boots kernel + initrd."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)} (Makefile APT_PACKAGES: dosfstools mtools syslinux)"
        )
    config = (
        "SERIAL 0 115200\nCONSOLE 0\nPROMPT 1\nTIMEOUT 0\n"
        f"DEFAULT {ABSENT_DEFAULT}\nLABEL {BOOT_LABEL}\n  KERNEL vmlinuz\n  INITRD initrd\n  APPEND {append}\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        files = Path(scratch)
        (files / "syslinux.cfg").write_text(config)
        (files / "initrd").write_bytes(initrd)
        with out.open("wb") as disk:
            disk.truncate(DISK_MB * 1024 * 1024)
        _run(["mkfs.fat", "-n", "HILSEC", str(out)])
        for name, source in (
            ("syslinux.cfg", files / "syslinux.cfg"),
            ("vmlinuz", kernel),
            ("initrd", files / "initrd"),
        ):
            _run(["mcopy", "-i", str(out), str(source), f"::{name}"])
        _run(["syslinux", "--install", str(out)])
    return out
