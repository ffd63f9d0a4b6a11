"""The Osmocom cell's own network namespace: loopback with multicast, nothing else.

osmo-bts-virtual's radio is multicast on 0.0.0.0, and the Osmocom programs listen on their
fixed default ports; in a private namespace neither reaches the host's network nor clashes
with another run's cell. The name follows the lab networks' pattern (hilsec-<pid>-<n>) so
harness.lab.network.remove_stale_namespaces cleans up after a crashed run too.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess

from harness.errors import HarnessSetupError
from harness.lab.network import NAMESPACE_PREFIX, remove_stale_namespaces

IP_TIMEOUT_S = 10.0
_counter = itertools.count(500)  # lab networks count from 1; cells from 500


def _ip(*args: str) -> None:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise HarnessSetupError(f"ip {' '.join(args)}: {err}") from err
    if done.returncode != 0:
        raise HarnessSetupError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


class CellNamespace:
    def __init__(self) -> None:
        self.name = f"{NAMESPACE_PREFIX}{os.getpid()}-{next(_counter)}"
        self.created = False

    def create(self) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise HarnessSetupError(
                "the Osmocom cell runs in a network namespace of its own, which needs root and iproute2"
            )
        remove_stale_namespaces()
        _ip("netns", "add", self.name)
        self.created = True
        atexit.register(self.destroy)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up", "multicast", "on")
            _ip("-n", self.name, "route", "add", "224.0.0.0/4", "dev", "lo")
        except HarnessSetupError:
            self.destroy()
            raise

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """argv run inside the namespace (with extra environment variables)."""
        extra = [f"{key}={value}" for key, value in (env or {}).items()]
        return ["ip", "netns", "exec", self.name, *(["env", *extra] if extra else []), *argv]

    def destroy(self) -> None:
        if not self.created:
            return
        try:
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=IP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.created = False
        atexit.unregister(self.destroy)
