"""UEFI variable stores for platforms that do not enforce, derived from Debian's OVMF ones with
virt-firmware: what a careless maker ships (the knobs of the secure-boot profiles' tests).

- setup mode: OVMF's empty store (no Platform Key) with the Secure Boot firmware build.
- Secure Boot switched off: Microsoft's keys enrolled, SecureBootEnable set to 0.
"""

from __future__ import annotations

from pathlib import Path

from virt.firmware.varstore.edk2 import Edk2VarStore

ENROLLED_STORE = "OVMF_VARS_4M.ms.fd"
EMPTY_STORE = "OVMF_VARS_4M.fd"
SECURE_CODE = "OVMF_CODE_4M.secboot.fd"


def disabled_store(ovmf_dir: Path, target: Path) -> Path:
    """Microsoft's keys enrolled, SecureBootEnable=0: keys present, nothing enforced."""
    store = Edk2VarStore(str(ovmf_dir / ENROLLED_STORE))
    variables = store.get_varlist()
    variables.set_bool("SecureBootEnable", False)
    store.write_varstore(str(target), variables)
    return target


def setup_mode_store(ovmf_dir: Path) -> Path:
    return ovmf_dir / EMPTY_STORE
