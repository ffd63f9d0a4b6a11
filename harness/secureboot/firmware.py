"""OVMF firmware files for a boot with Secure Boot enforced or not.

Enforcing: the Secure Boot build of the code (SMM-protected variable store) and a private copy
of the variable store with Microsoft's keys enrolled, which is what signs Debian's shim. Not
enforcing: the plain build with an empty variable store, as on a board whose maker never turned
Secure Boot on. The variable store is copied per boot: OVMF writes to it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from harness.errors import HarnessSetupError


class FirmwareMode(Enum):
    ENFORCING = "enforcing"
    NOT_ENFORCING = "not-enforcing"
    NAMED = "the device's own"  # firmware and variable store named by the profile


_FILES = {
    FirmwareMode.ENFORCING: ("OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd"),
    FirmwareMode.NOT_ENFORCING: ("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"),
}


@dataclass(frozen=True)
class FirmwareFiles:
    mode: FirmwareMode
    code: Path  # read-only pflash unit 0
    vars: Path  # writable pflash unit 1, a private copy

    @property
    def secure(self) -> bool:
        return self.mode is FirmwareMode.ENFORCING


def firmware_files(ovmf_dir: Path, mode: FirmwareMode, workdir: Path) -> FirmwareFiles:
    """The code file and a fresh copy of the variable store for `mode`."""
    code_name, vars_name = _FILES[mode]
    code, template = ovmf_dir / code_name, ovmf_dir / vars_name
    for path in (code, template):
        if not path.exists():
            raise HarnessSetupError(f"OVMF file {path} is missing")
    workdir.mkdir(parents=True, exist_ok=True)
    private = workdir / f"vars-{mode.value}.fd"
    shutil.copyfile(template, private)
    return FirmwareFiles(mode=mode, code=code.resolve(), vars=private)


def variable_store_template(ovmf_dir: Path, mode: FirmwareMode) -> Path:
    """The variable store file `mode` boots with (each boot gets a private copy of it)."""
    return ovmf_dir / _FILES[mode][1]


def firmware_for(
    ovmf_dir: Path,
    mode: FirmwareMode,
    workdir: Path,
    *,
    code: Path | None = None,
    variables: Path | None = None,
) -> FirmwareFiles:
    """`mode`'s files, with the device's own code and/or variable store where the profile names them."""
    if code is None and variables is None:
        return firmware_files(ovmf_dir, mode, workdir)
    default = firmware_files(ovmf_dir, mode, workdir)
    private = workdir / "vars-device.fd"
    if variables is not None:
        shutil.copyfile(variables, private)
    else:
        shutil.copyfile(default.vars, private)
    return FirmwareFiles(mode=FirmwareMode.NAMED, code=(code or default.code).resolve(), vars=private)
