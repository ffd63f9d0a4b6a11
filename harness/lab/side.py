"""The lab side of the device's network: where lab servers, scanners and login probes run.

On a bench the lab LAN may be the host's own network, or a network namespace the lab keeps it
in (the bench twin's LAN; a lab host that isolates each bench). Only what must be on the lab
side goes there: a socket or a process created inside `LabSide.entered()` stays in the
namespace for its whole life, while pytest's own thread leaves the block and keeps the host's
network (so a suite can still download what it needs).

A namespace this run made is held open (`hold_namespace`): if its name is deleted under the run
(`ip netns delete`, a cleanup script), the namespace itself lives on in the device's tap and the
lab's sockets, and the next entry gives it its name back instead of failing every later test.
"""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import HarnessSetupError

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
RESTORE_TIMEOUT_S = 10.0
log = logging.getLogger(__name__)

_held: dict[str, int] = {}  # namespace name -> a descriptor this process holds on it
_held_lock = threading.Lock()


def hold_namespace(name: str) -> None:
    """Keep a handle on a namespace this run made, so that a deleted name can be given back."""
    handle = os.open(NETNS_DIR / name, os.O_RDONLY)
    with _held_lock:
        previous = _held.pop(name, None)
        _held[name] = handle
    if previous is not None:
        os.close(previous)


def release_namespace(name: str) -> None:
    """Let go of the handle (before the namespace is deleted for good)."""
    with _held_lock:
        handle = _held.pop(name, None)
    if handle is not None:
        os.close(handle)


def _restore_name(name: str, handle: int) -> None:
    """Name the held namespace again: `ip netns attach` from a process entered into it."""
    argv = [
        "nsenter",
        f"--net=/proc/{os.getpid()}/fd/{handle}",
        "sh",
        "-c",
        'exec ip netns attach "$0" $$',
        name,
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=RESTORE_TIMEOUT_S, pass_fds=(handle,)
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise HarnessSetupError(
            f"the lab network namespace {name!r} was deleted and could not be restored: {err}"
        ) from err
    if done.returncode != 0:
        raise HarnessSetupError(
            f"the lab network namespace {name!r} was deleted and could not be restored: "
            f"{(done.stderr or done.stdout).strip()[:300]}"
        )
    log.warning("the lab network namespace %s was deleted under the run; restored its name", name)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise HarnessSetupError(f"setns into the lab network namespace failed: {os.strerror(errno)}")


class LabSide:
    """The host's network (`namespace=None`) or a named network namespace, entered per block."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace
        self._held: dict[int, tuple[int, int]] = {}  # thread id -> (fd of the previous netns, depth)
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return NETNS_DIR / self.namespace if self.namespace else None

    def describe(self) -> str:
        return f"network namespace {self.namespace}" if self.namespace else "the lab host's own network"

    def check(self) -> None:
        """HarnessSetupError when the named namespace does not exist (a typo, a bench not set up);
        a namespace this run holds whose name was deleted gets its name back instead."""
        if self.path is None or self.path.exists():
            return
        with _held_lock:
            handle = _held.get(str(self.namespace))
        if handle is not None:
            _restore_name(str(self.namespace), handle)
            return
        raise HarnessSetupError(
            f"the lab network namespace {self.namespace!r} does not exist ({self.path}); "
            "create it, or fix lab config network.namespace"
        )

    @contextmanager
    def entered(self) -> Iterator[LabSide]:
        """Run a block on the lab side; nested blocks and other threads are independent."""
        if self.path is None:
            yield self
            return
        ident = threading.get_ident()
        with self._lock:
            held = self._held.get(ident)
            if held is not None:
                self._held[ident] = (held[0], held[1] + 1)
        if held is None:
            self.check()
            previous = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            target = os.open(self.path, os.O_RDONLY)
            try:
                _setns(target)
            except HarnessSetupError:
                os.close(previous)
                raise
            finally:
                os.close(target)
            with self._lock:
                self._held[ident] = (previous, 1)
        try:
            yield self
        finally:
            with self._lock:
                previous, depth = self._held[ident]
                if depth > 1:
                    self._held[ident] = (previous, depth - 1)
                else:
                    del self._held[ident]
            if depth == 1:
                try:
                    _setns(previous)
                finally:
                    os.close(previous)

    def command(self, argv: list[str]) -> list[str]:
        """argv that runs on the lab side from anywhere (`ip netns exec`); `check()` before running it."""
        return ["ip", "netns", "exec", self.namespace, *argv] if self.namespace else list(argv)

    def __repr__(self) -> str:
        return f"LabSide({self.namespace or 'host'})"
