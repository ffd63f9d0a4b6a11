"""A labgrid place held for a run: acquired through the coordinator, released on every exit path.

Crash safety by construction, as for a local board (harness/lab/locks.py): the run holds an flock
per place on this host beside the labgrid acquisition. The kernel drops the flock when the run
dies, but the coordinator still says the place is acquired by this host and user; a run that gets
the flock and finds the place so acquired knows its previous holder is dead, releases the place
and acquires it again, with nobody to call. A place acquired by another host or user, or whose
flock another live run holds, is busy: the run waits (`--hilsec-wait`) or is refused naming the
holder.

labgrid's client API needs argparse plumbing for its actions, so actions are `labgrid-client`
commands (each bounded in time and output); the state is read by labgrid's own client session in a
subprocess (harness/lab/labgrid_state.py), bounded the same way.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import HarnessSetupError
from harness.lab.locks import DEFAULT_LOCK_DIR, POLL_S, DeviceBusy, DeviceLock
from harness.util.processes import OUTPUT_IN_ERROR, run_shell
from harness.util.text import one_line

CLIENT = "labgrid-client"
RESERVATION_GRACE_S = 10.0  # the coordinator allocates reservations on its own schedule (every few s)
SERIAL_CLASS = "NetworkSerialPort"
ERROR_CHARS = 300  # of a labgrid-client error quoted in a reason (it may print whole place records)
POWER_CLASSES = ("NetworkPowerPort", "PDUDaemonPort", "TasmotaPowerPort", "NetworkUSBPowerPort")


class LabgridError(HarnessSetupError):
    """A labgrid-client command failed or overran, or the coordinator could not be read."""


@dataclass(frozen=True)
class PlaceResource:
    exporter: str
    group: str
    cls: str
    name: str  # the name the place gives it (a match's rename), else the exporter's
    params: dict[str, Any]
    avail: bool

    @property
    def where(self) -> str:
        return f"{self.exporter}/{self.group}/{self.cls}/{self.name}"


@dataclass(frozen=True)
class PlaceState:
    name: str
    acquired: str | None  # "host/user"
    tags: dict[str, str]
    reservation: str | None
    resources: tuple[PlaceResource, ...]

    def of_class(self, cls: str) -> list[PlaceResource]:
        return [resource for resource in self.resources if resource.cls == cls]


def this_holder() -> str:
    """Who labgrid says holds what this run acquires: host/user, as labgrid-client names it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{os.environ.get('LG_HOSTNAME', socket.gethostname())}/{os.environ.get('LG_USERNAME', user)}"


class Client(Protocol):
    """What the hold needs of labgrid (the real one below; a fake one in the unit tests)."""

    coordinator: str

    def places(self) -> dict[str, PlaceState]: ...
    def acquire(self, place: str) -> None: ...
    def release(self, place: str) -> None: ...
    def reserve(self, tags: dict[str, str]) -> str: ...
    def wait_reservation(self, token: str, timeout_s: float) -> str | None: ...
    def cancel_reservation(self, token: str) -> None: ...


@dataclass
class LabgridClient:
    """`labgrid-client` commands and the coordinator's state, each bounded by `timeout_s`."""

    coordinator: str
    timeout_s: float = 30.0

    def _run(self, *args: str, timeout_s: float | None = None, check: bool = True) -> str:
        beside = Path(sys.executable).with_name(CLIENT)  # the client of the labgrid hilsec imports
        binary = str(beside) if beside.exists() else (shutil.which(CLIENT) or CLIENT)
        limit = float(timeout_s or self.timeout_s)
        command = shlex.join([binary, "-x", self.coordinator, *args])
        outcome = run_shell(command, limit)
        if check and outcome.status is None:
            raise LabgridError(f"labgrid: `{CLIENT} {shlex.join(args)}` did not finish within {limit:g} s")
        if check and outcome.status != 0:
            said = one_line(_last_error(outcome.output))
            raise LabgridError(f"labgrid: `{CLIENT} {shlex.join(args)}` failed: {said}")
        return outcome.output

    def places(self) -> dict[str, PlaceState]:
        command = shlex.join([sys.executable, "-m", "harness.lab.labgrid_state", self.coordinator])
        outcome = run_shell(command, self.timeout_s)
        if outcome.status != 0:
            said = one_line(outcome.output.strip()[-OUTPUT_IN_ERROR:]) or "no answer"
            raise LabgridError(f"labgrid: could not read coordinator {self.coordinator}: {said}")
        try:
            data = json.loads(outcome.output[outcome.output.index("{") :])
            return {name: _place(name, entry) for name, entry in data["places"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise LabgridError(
                f"labgrid: unreadable state from coordinator {self.coordinator}: {err}"
            ) from None

    def acquire(self, place: str) -> None:
        self._run("-p", place, "acquire")

    def release(self, place: str) -> None:
        self._run("-p", place, "release")

    def power(self, place: str, action: str) -> None:
        self._run("-p", place, "power", action)

    def reserve(self, tags: dict[str, str]) -> str:
        output = self._run("reserve", "--shell", *(f"{key}={value}" for key, value in sorted(tags.items())))
        for line in output.splitlines():
            if line.startswith("export LG_TOKEN="):
                return line.split("=", 1)[1].strip()
        raise LabgridError(f"labgrid: `{CLIENT} reserve` gave no token: {one_line(output[-200:])}")

    def wait_reservation(self, token: str, timeout_s: float) -> str | None:
        """The place allocated to `token`, or None when none is within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            for name, state in self.places().items():
                if state.reservation == token:
                    return name
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(POLL_S * 2, max(0.0, deadline - time.monotonic())))

    def cancel_reservation(self, token: str) -> None:
        self._run("cancel-reservation", token, check=False)


def _last_error(output: str) -> str:
    """The line that says what went wrong (labgrid-client ends with it), clipped."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    said = next((line for line in reversed(lines) if "rror" in line), lines[-1] if lines else "no output")
    return said if len(said) <= ERROR_CHARS else said[: ERROR_CHARS - 3] + "..."


def _place(name: str, entry: dict[str, Any]) -> PlaceState:
    resources = tuple(
        PlaceResource(
            str(r["exporter"]),
            str(r["group"]),
            str(r["cls"]),
            str(r["name"]),
            dict(r["params"]),
            bool(r["avail"]),
        )
        for r in entry.get("resources", [])
    )
    tags = {str(k): str(v) for k, v in (entry.get("tags") or {}).items()}
    return PlaceState(name, entry.get("acquired") or None, tags, entry.get("reservation") or None, resources)


@dataclass
class PlaceHold:
    """One run's hold on a labgrid place (by name, or any place with the tags): the pool's lock for it.

    Same face as DeviceLock (`key`, `acquire(wait_s)`, `release()`, `holder()`, `held`), so the
    session's device pool treats a remote board as it treats a local one.
    """

    settings: Any  # harness.config.lab.LabgridSettings
    directory: Path = DEFAULT_LOCK_DIR
    client: Client | None = None
    place: str | None = None  # the place held (chosen by the coordinator for tags)
    recovered: list[str] = field(default_factory=list)  # places released from a dead run of ours
    _lock: DeviceLock | None = None
    _token: str | None = None  # the reservation the place was allocated by (tags)
    _busy: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory or DEFAULT_LOCK_DIR)
        if self.client is None:
            self.client = LabgridClient(self.settings.coordinator, float(self.settings.timeout_s))

    @property
    def key(self) -> str:
        wanted = self.settings.place or ",".join(f"{k}={v}" for k, v in sorted(self.settings.tags.items()))
        return f"labgrid place {wanted} at {self.settings.coordinator}"

    @property
    def held(self) -> bool:
        return self._lock is not None

    def _local_lock(self, place: str) -> DeviceLock:
        return DeviceLock(f"labgrid-{self.settings.coordinator}-{place}", self.directory)

    def holder(self) -> str:
        return "; ".join(self._busy) or "nobody known"

    def acquire(self, wait_s: float = 0.0, purpose: str = "") -> None:
        """Hold the place, waiting up to `wait_s`; DeviceBusy naming the holder when it stays busy."""
        if self._lock is not None:
            return
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            if self.settings.place is not None:
                if self._try_place(self.settings.place, purpose):
                    return
            elif self._try_tags(max(RESERVATION_GRACE_S, deadline - time.monotonic()), purpose):
                return
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait_s:.0f} s" if wait_s > 0 else ""
                raise DeviceBusy(
                    f"{self.key} is in use{waited}: {self.holder()} (pass --hilsec-wait SECONDS to wait for it)"
                )
            time.sleep(min(POLL_S * 2, max(0.0, deadline - time.monotonic())))

    def _try_place(self, place: str, purpose: str) -> bool:
        """Take the local flock, clear a dead run's acquisition, acquire; False when busy."""
        assert self.client is not None
        self._busy = []
        lock = self._local_lock(place)
        try:
            lock.acquire(0.0, purpose)
        except DeviceBusy:
            self._busy.append(f"place {place} held on this host by {lock.holder()}")
            return False
        try:
            states = self.client.places()
            state = states.get(place)
            if state is None:
                known = ", ".join(sorted(states)) or "none"
                raise LabgridError(
                    f"labgrid: coordinator {self.client.coordinator} has no place {place!r} (it has: {known})"
                )
            if state.acquired == this_holder():
                self._release_dead_run(place)
            elif state.acquired:
                self._busy.append(f"place {place} acquired by {state.acquired}")
                lock.release()
                return False
            self.client.acquire(place)
        except BaseException:
            lock.release()
            raise
        self.place, self._lock = place, lock
        return True

    def _release_dead_run(self, place: str) -> None:
        """Our flock was free yet labgrid says we hold the place: its holder died. Release it."""
        assert self.client is not None
        self.client.release(place)
        self.recovered.append(place)
        print(
            f"hilsec: labgrid place {place} was left acquired by a run of {this_holder()} that died: released it",
            file=sys.stderr,
        )

    def _try_tags(self, timeout_s: float, purpose: str) -> bool:
        """Reserve any place with the tags (labgrid's scheduler picks), then hold it as by name."""
        assert self.client is not None
        self._busy = []
        tags = self.settings.tags
        for name, state in self.client.places().items():  # dead runs' places first, so they can be allocated
            if state.acquired == this_holder() and tags.items() <= state.tags.items():
                lock = self._local_lock(name)
                try:
                    lock.acquire(0.0, purpose)
                except DeviceBusy:
                    continue
                try:
                    self._release_dead_run(name)
                finally:
                    lock.release()
        token = self.client.reserve(tags)
        try:
            place = self.client.wait_reservation(token, timeout_s)
            if place is None:
                holders = [
                    f"{name} acquired by {state.acquired}"
                    for name, state in self.client.places().items()
                    if tags.items() <= state.tags.items() and state.acquired
                ]
                self._busy.append(
                    "no place with these tags free" + (f" ({'; '.join(holders)})" if holders else "")
                )
                got = False
            else:
                got = self._try_place(place, purpose)
        except BaseException:
            self.client.cancel_reservation(token)
            raise
        if got:
            self._token = token  # cancelled after the release: labgrid ends an acquired reservation then
        else:
            self.client.cancel_reservation(token)
        return got

    def release(self) -> None:
        """Release the place and the flock; a failed release is reported on stderr, never raised:
        the next run of this host and user recovers the place (see the module's docstring)."""
        lock, self._lock = self._lock, None
        token, self._token = self._token, None
        if lock is None:
            return
        assert self.client is not None and self.place is not None
        try:
            self.client.release(self.place)
            if token is not None:
                self.client.cancel_reservation(token)
        except (LabgridError, OSError) as err:
            print(f"hilsec: {err} (the next run on this host releases it)", file=sys.stderr)
        finally:
            lock.release()
