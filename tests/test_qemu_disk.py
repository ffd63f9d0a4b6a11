"""`console.qemu.disk`: an emulated board that boots from a disk image through a real bootloader.

The disk (tests/support/disk_image.py) holds SYSLINUX, Debian's kernel and a busybox initramfs;
QEMU's firmware (SeaBIOS) boots it and SYSLINUX stops at `boot:`. So this is also the strategy's
"bootloader prompt on power-on" case: it must recognise the profile's bootloader prompt, send the
profile's boot command and reach the login, recording what it did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.disk_image import BOOT_LABEL, BOOT_PROMPT, busybox_initrd, reference_bzimage, syslinux_disk

from harness.config.loader import load_lab_config, load_profile
from harness.device import Device
from harness.emulation import build_image

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Disk-board-pw-7"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("disk")
    image = build_image("hardened")  # its kernel package is in the image cache
    kernel = reference_bzimage(image.root, image.root.parent, work)
    return syslinux_disk(work / "board.img", kernel, busybox_initrd(PASSWORD))


def test_a_board_booting_from_a_disk_image(disk: Path, tmp_path: Path) -> None:
    profile = tmp_path / "disk-board.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "name": "disk-board",
                "vendor": "hilsec tests",
                "model": "SYSLINUX disk board",
                "firmware_version": "1",
                "console": {"qemu": {"disk": str(disk)}},
                "login": {"username": "root", "password": PASSWORD},
                "bootloader": {"prompt": BOOT_PROMPT, "boot_command": BOOT_LABEL},
                "features": {"sip": False, "software_update": False, "security_logging": False},
            }
        )
    )
    lab = load_lab_config(ROOT / "lab_configs/local-qemu.yaml")
    device = Device(load_profile(profile), lab, workdir=tmp_path / "lab")
    device.start()
    try:
        cmdline = device.run("cat /proc/cmdline").output
        assert "BOOT_IMAGE=vmlinuz" in cmdline and "initrd=initrd" in cmdline, cmdline
        assert device.run("hostname").output == "disk-board"
        booted = [r.what for r in device.recoveries if "bootloader prompt" in r.what]
        assert booted and BOOT_LABEL in booted[0], device.recoveries
        machine = device.context.shared["emulated-board"].machine
        assert machine.disk == disk and machine.kernel is None
        assert "snapshot=on" in " ".join(machine.command_line())  # the image itself is never written
    finally:
        device.stop()
