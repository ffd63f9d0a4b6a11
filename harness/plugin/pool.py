"""Which device a session (or each pytest-xdist worker) runs on, held exclusively.

A lab config's `pool` lists devices; a plain session takes the first free one, and with
`pytest -n N` the controller takes N different ones and hands one to each worker, which then runs
every selected test on it (xdist's `each` distribution). A bench device is held by an flock on a
file per device (harness/lab/locks.py) in the controller's process, so a killed job frees it.
An emulated device needs no lock: each session boots its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.lab.locks import DEFAULT_LOCK_DIR, POLL_S, DeviceBusy, DeviceLock
from harness.util.deadlines import wait_until

if TYPE_CHECKING:
    from harness.lab.labgrid import PlaceHold


@dataclass
class Assignment:
    """One device a session drives: its name (the report section), profile, lab config and lock."""

    name: str
    profile_path: Path
    profile: Any
    lab: Any
    lock: DeviceLock | PlaceHold | None = None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def lock_key(profile: Any, lab: Any) -> str | None:
    """What names the physical device on this host (its serial port, its console endpoint);
    None for an emulated device, which each session starts for itself."""
    if lab is not None and lab.labgrid is not None:
        return _place_hold(lab, DEFAULT_LOCK_DIR).key
    console = profile.console
    if console.qemu is not None:
        return None
    if console.serial is not None:
        from harness.drivers.serial_console import resolve_serial

        url, _ = resolve_serial(console.serial, lab, "console.serial")
        return os.path.realpath(url) if url.startswith("/") else url
    if console.telnet is not None:
        return f"telnet://{console.telnet.host}:{console.telnet.port}"
    if console.ssh is not None:
        return f"ssh://{console.ssh.host}:{console.ssh.port}"
    return None


def _place_hold(lab: Any, directory: Path) -> PlaceHold:
    from harness.lab.labgrid import PlaceHold

    return PlaceHold(lab.labgrid, directory)


def candidates(profile_path: Path | None, profile: Any, lab: Any) -> list[Assignment]:
    """Every device the run may use: the pool's entries, or the one device of --device-profile."""
    from harness.config import load_profile

    if lab is None or not lab.pool:
        if profile is None or profile_path is None:
            return []
        return [Assignment(str(profile.name), profile_path, profile, lab)]
    found = []
    for entry in lab.pool:
        path = entry.profile or profile_path
        if path is None:
            raise ConfigError(
                "lab config",
                f"pool.{entry.name}.profile",
                "no profile for this device",
                "a profile, or --device-profile",
            )
        entry_profile = load_profile(path) if entry.profile else profile
        overrides: dict[str, Any] = {"pool": []}
        if entry.power is not None:
            overrides["power"] = entry.power
        if entry.serial_ports:
            overrides["serial_ports"] = {**lab.serial_ports, **entry.serial_ports}
        if entry.labgrid is not None:
            overrides["labgrid"] = entry.labgrid
        found.append(Assignment(entry.name, Path(path), entry_profile, lab.model_copy(update=overrides)))
    return found


def acquire(devices: list[Assignment], count: int, wait_s: float, lab: Any) -> list[Assignment]:
    """Hold `count` different devices, each locked when it is a local bench device.

    Takes the first free ones; when fewer are free, waits up to `wait_s` for the rest, then
    DeviceBusy naming who holds them. Emulated devices are always free.
    """
    if count > len(devices):
        raise ConfigError(
            "lab config", "pool", f"{count} workers but {len(devices)} device(s) to give them",
            f"at most -n {len(devices)}, or more pool devices",
        )  # fmt: skip
    directory = Path(lab.locks_dir) if lab is not None and lab.locks_dir else DEFAULT_LOCK_DIR
    held: list[Assignment] = []
    for device in devices:
        key = lock_key(device.profile, device.lab)
        if device.lab is not None and device.lab.labgrid is not None:
            device.lock = _place_hold(device.lab, directory)  # a remote board: its place, and a local flock
        else:
            device.lock = DeviceLock(key, directory) if key else None

    def all_held() -> bool:
        """Take free devices until `count` are held; True once they are."""
        for device in devices:
            if len(held) == count:
                return True
            if device in held:
                continue
            try:
                if device.lock is not None:
                    device.lock.acquire(0.0)
                held.append(device)
            except DeviceBusy:
                continue
        return len(held) == count

    try:
        if wait_until(all_held, wait_s, POLL_S):
            return held
        busy = [d for d in devices if d not in held and d.lock is not None]
        holders = "; ".join(f"{d.name} ({d.lock.key}) held by {d.lock.holder()}" for d in busy)
        waited = f" after waiting {wait_s:.0f} s" if wait_s > 0 else ""
        raise DeviceBusy(f"no free device{waited}: {holders} (pass --hilsec-wait SECONDS to wait for it)")
    except BaseException:
        for device in held:
            device.release()
        raise
