"""Exclusive use of a local device: an flock on one file per device, which the kernel drops when
the holder dies, so a killed CI job never leaves a board locked (no stale-lock cleanup, no person).

The lock file also says who holds it (pid, user, host, command, since when), so a second session
that is refused or waits can name the holder. Another session on the same host waits for the lock
(`--hilsec-wait SECONDS`) or is refused at once.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HilsecError
from harness.util.deadlines import wait_until
from harness.util.files import try_flock

DEFAULT_LOCK_DIR = Path("/run/lock/hilsec") if Path("/run/lock").is_dir() else Path("/tmp/hilsec-locks")
POLL_S = 0.5
HOLDER_LIMIT = 4096  # bytes of holder description read back: the file is ours, but bound it anyway
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class DeviceBusy(HilsecError):
    """The device is locked by another session; the message names the holder."""


@dataclass
class DeviceLock:
    """One device's lock file; `acquire` holds it until `release` or this process ends."""

    key: str  # what identifies the device on this host: a serial path, a pool entry's name
    directory: Path = DEFAULT_LOCK_DIR
    _fd: int | None = None

    def __post_init__(self) -> None:
        self.directory = Path(self.directory or DEFAULT_LOCK_DIR)

    @property
    def path(self) -> Path:
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:12]
        return self.directory / f"{_SAFE.sub('_', self.key).strip('_')[-60:]}-{digest}.lock"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_s: float = 0.0, purpose: str = "") -> None:
        """Take the lock, waiting up to `wait_s`; DeviceBusy naming the holder when it stays taken."""
        if self._fd is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            if not wait_until(lambda: try_flock(fd), wait_s, POLL_S):
                waited = f" after waiting {wait_s:.0f} s" if wait_s > 0 else ""
                raise DeviceBusy(
                    f"device {self.key} is in use{waited}: held by {self.holder()} "
                    "(pass --hilsec-wait SECONDS to wait for it)"
                )
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_me(self.key, purpose)).encode() + b"\n")
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing the last descriptor drops the flock

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it; "another process" when it says nothing."""
        try:
            with self.path.open("rb") as handle:
                data = json.loads(handle.read(HOLDER_LIMIT) or b"{}")
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or "pid" not in data:
            return "another process"
        command = str(data.get("command", ""))[:200]
        return (
            f"pid {data.get('pid')} ({data.get('user', '?')}@{data.get('host', '?')}, "
            f"since {data.get('since', '?')}{', ' + command if command else ''})"
        )


def _me(key: str, purpose: str) -> dict[str, object]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {
        "device": key,
        "pid": os.getpid(),
        "user": user,
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:300],
        "purpose": purpose,
    }
