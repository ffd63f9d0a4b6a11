"""What a UEFI variable store says about the platform: enrolled keys, setup mode, SecureBootEnable.

Read with virt-firmware (PyPI, the maintained reader of OVMF/edk2 variable stores), so a profile
can name the device's own store. No Platform Key means setup mode: the firmware verifies nothing
and anyone may enrol keys. A SecureBootEnable of 0 with keys enrolled is Secure Boot switched off.
"""

from __future__ import annotations

from pathlib import Path

from harness.observations.secure_boot import PlatformState

KEY_VARIABLES = ("PK", "KEK", "db", "dbx")


def read_platform(store: Path) -> PlatformState:
    """The platform state a variable store file describes; `readable` False when it cannot be read."""
    from virt.firmware.varstore.autodetect import open_varstore

    source = f"variable store {store.name}"
    try:
        varstore = open_varstore(str(store))
        variables = varstore.get_varlist() if varstore is not None else None
    except Exception as error:  # noqa: BLE001 (a damaged store from the device: say so, never crash)
        return PlatformState(source, readable=False, problem=f"{type(error).__name__}: {error}"[:200])
    if variables is None:
        return PlatformState(
            source, readable=False, problem="not a variable store format virt-firmware knows"
        )
    enrolled = tuple(name for name in KEY_VARIABLES if name in variables and len(variables[name].data) > 0)
    enable = variables.get("SecureBootEnable")
    enabled = bool(enable.data[0]) if enable is not None and len(enable.data) else None
    return PlatformState(
        source, readable=True, setup_mode="PK" not in enrolled, enabled=enabled, enrolled=enrolled
    )
