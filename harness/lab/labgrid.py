"""A labgrid place held for a run: acquired through the coordinator, released on every exit path.

Crash safety by construction, as for a local board (harness/lab/locks.py): the run holds an flock
per place on this host beside the labgrid acquisition. The kernel drops the flock when the run
dies, but the coordinator still says the place is acquired by this host and user; a run that gets
the flock and finds the place so acquired knows its previous holder is dead, releases the place
and acquires it again, with nobody to call. A place acquired by another host or user, or whose
flock another live run holds, is busy: the run waits (`--hilsec-wait`) or is refused naming the
holder.

By tags, the run reserves any place with them (labgrid's reservations: `labgrid-client reserve`,
then `wait` on the token, which keeps the reservation alive while it waits), acquires the place
the coordinator allocated, and cancels the reservation before it releases the place: an allocated
reservation outlives the release by a minute or more, and until it ends the coordinator refuses
the place to every other user.

labgrid's client API needs argparse plumbing for its actions, so actions are `labgrid-client`
commands (each bounded in time and output, run without the caller's LG_ENV and friends, which
would point them at other places); the state is read by labgrid's own client session in a
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import HarnessSetupError
from harness.lab.locks import DEFAULT_LOCK_DIR, POLL_S, DeviceBusy, DeviceLock
from harness.util.deadlines import Deadline, wait_until
from harness.util.processes import OUTPUT_IN_ERROR, run_shell
from harness.util.text import one_line

CLIENT = "labgrid-client"
# What labgrid-client reads from the environment that would redirect a command: LG_ENV's
# RemotePlaces are acquired instead of -p's place; the others stand in for arguments.
CLIENT_ENV_DROPPED = ("LG_ENV", "LG_PLACE", "PLACE", "LG_STATE", "STATE", "LG_INITIAL_STATE", "LG_TOKEN")
SERIAL_CLASS = "NetworkSerialPort"
ERROR_CHARS = 300  # of a labgrid-client error quoted in a reason (it may print whole place records)
POWER_CLASSES = ("NetworkPowerPort", "PDUDaemonPort", "TasmotaPowerPort", "NetworkUSBPowerPort")


class LabgridError(HarnessSetupError):
    """A labgrid-client command failed or overran, or the coordinator could not be read."""


class LabgridTimeout(LabgridError):
    """A labgrid-client command overran: whether the coordinator did what it asked is unknown."""


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
    def wait_reservation(self, token: str, timeout_s: float) -> PlaceState | None: ...
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
        env = {key: value for key, value in os.environ.items() if key not in CLIENT_ENV_DROPPED}
        outcome = run_shell(command, limit, env)
        if check and outcome.status is None:
            raise LabgridTimeout(f"labgrid: `{CLIENT} {shlex.join(args)}` did not finish within {limit:g} s")
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
        """Release the place if this host and user hold it (never another's: labgrid's plain
        `release` gives back a place of the same user on any host)."""
        self._run("-p", place, "release-from", this_holder())

    def power(self, place: str, action: str) -> None:
        self._run("-p", place, "power", action)

    def reserve(self, tags: dict[str, str]) -> str:
        output = self._run("reserve", "--shell", *(f"{key}={value}" for key, value in sorted(tags.items())))
        for line in output.splitlines():
            if line.startswith("export LG_TOKEN="):
                return line.split("=", 1)[1].strip()
        raise LabgridError(f"labgrid: `{CLIENT} reserve` gave no token: {one_line(output[-200:])}")

    def wait_reservation(self, token: str, timeout_s: float) -> PlaceState | None:
        """The place allocated to `token`, or None when none is within `timeout_s`.

        The coordinator allocates a free place when the reservation is made, so with nothing to
        wait for the places are read at once. Else `labgrid-client wait` polls the reservation
        (each poll keeps it from expiring, which it does a minute after the last) until it is
        allocated or `timeout_s` ends it; the places say which place it got either way."""
        if timeout_s > 0:
            self._run("wait", token, timeout_s=timeout_s, check=False)
        return next((state for state in self.places().values() if state.reservation == token), None)

    def cancel_reservation(self, token: str) -> None:
        self._run("cancel-reservation", token, check=False)


def naming_place(settings: Any, place: str | None) -> Any:
    """LabgridSettings that name `place`: a run that reserved by tags drives the place it was
    allocated, not another with the tags that this host and user holds for another run."""
    if place is None or settings.place == place:
        return settings
    return settings.model_copy(update={"place": place})


def has_tags(state: PlaceState, tags: dict[str, str]) -> bool:
    """Whether the place carries every tag (labgrid's reservation filter: all must match)."""
    return tags.items() <= state.tags.items()


def format_tags(tags: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(tags.items()))


def busy_tagged_places(states: dict[str, PlaceState], tags: dict[str, str]) -> str:
    """Why no place with the tags was allocated: who holds, or whose reservation has, each one."""
    reasons = []
    for name, state in sorted(states.items()):
        if not has_tags(state, tags):
            continue
        if state.acquired:
            reasons.append(f"{name} acquired by {state.acquired}")
        elif state.reservation:
            reasons.append(f"{name} reserved by another reservation")
    return "no place with these tags free" + (f" ({'; '.join(reasons)})" if reasons else "")


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
        wanted = self.settings.place or format_tags(self.settings.tags)
        return f"labgrid place {wanted} at {self.settings.coordinator}"

    @property
    def held(self) -> bool:
        return self._lock is not None

    def _local_lock(self, place: str) -> DeviceLock:
        return DeviceLock(f"labgrid-{self.settings.coordinator}-{place}", self.directory)

    def holder(self) -> str:
        return "; ".join(self._busy) or "nobody known"

    def held_settings(self) -> Any:
        """The settings naming the place held (by tags, the one the coordinator allocated)."""
        return naming_place(self.settings, self.place)

    def acquire(self, wait_s: float = 0.0, purpose: str = "") -> None:
        """Hold the place, waiting up to `wait_s`; DeviceBusy naming the holder when it stays busy."""
        if self._lock is not None:
            return
        deadline = Deadline.after(wait_s)

        def held() -> bool:
            if self.settings.place is not None:
                return self._try_place(self.settings.place, purpose)
            return self._try_tags(deadline.remaining(), purpose)  # a reservation waits out the rest

        if not wait_until(held, deadline.remaining(), POLL_S * 2):
            waited = f" after waiting {wait_s:.0f} s" if wait_s > 0 else ""
            raise DeviceBusy(
                f"{self.key} is in use{waited}: {self.holder()} (pass --hilsec-wait SECONDS to wait for it)"
            )

    def _try_place(
        self, place: str, purpose: str, token: str | None = None, state: PlaceState | None = None
    ) -> bool:
        """Take the local flock, clear a dead run's acquisition, acquire; False when busy (acquired
        by another, or allocated to a reservation that is not `token`, this run's). `state` is
        the place as read after the coordinator allocated it to `token`: nobody else may acquire
        it then, so it is not read again."""
        assert self.client is not None
        self._busy = []
        lock = self._local_lock(place)
        try:
            lock.acquire(0.0, purpose)
        except DeviceBusy:
            self._busy.append(f"place {place} held on this host by {lock.holder()}")
            return False
        try:
            if state is None:
                states = self.client.places()
                state = states.get(place)
                if state is None:
                    known = ", ".join(sorted(states)) or "none"
                    raise LabgridError(
                        f"labgrid: coordinator {self.client.coordinator} has no place {place!r} (it has: {known})"
                    )
            if state.acquired == this_holder():
                self._release_dead_run(place, state.reservation)
            elif state.acquired or state.reservation not in (None, token):
                self._busy.append(
                    f"place {place} acquired by {state.acquired}"
                    if state.acquired
                    else f"place {place} allocated to labgrid reservation {state.reservation}"
                )
                lock.release()
                return False
            try:
                self.client.acquire(place)
            except LabgridTimeout:
                self._undo_acquire(place)
                raise
            except LabgridError:
                raise  # refused: nothing was acquired
            except BaseException:
                self._undo_acquire(place)  # interrupted (Ctrl-C, SIGTERM) while the coordinator acquired
                raise
        except BaseException:
            lock.release()
            raise
        self.place, self._lock = place, lock
        return True

    def _undo_acquire(self, place: str) -> None:
        """An acquisition that may have happened, given back if it did; never raises (the next
        run of this host and user recovers a place this could not release)."""
        assert self.client is not None
        try:
            self.client.release(place)
        except (LabgridError, OSError):
            pass

    def _release_dead_run(self, place: str, reservation: str | None) -> None:
        """Our flock was free yet labgrid says we hold the place: its holder died. Release it, and
        end the reservation it was allocated by: the coordinator let only the reservation's owner
        acquire the place, so it was that run's (ours), and it would keep the place from the next
        reservation for a minute or more."""
        assert self.client is not None
        if reservation is not None:
            self.client.cancel_reservation(reservation)
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
        matching = {name: state for name, state in self.client.places().items() if has_tags(state, tags)}
        if not matching:
            raise LabgridError(
                f"labgrid: coordinator {self.client.coordinator} has no place with tags {format_tags(tags)}"
            )
        for name, state in matching.items():  # dead runs' places first, so they can be allocated
            if state.acquired == this_holder():
                lock = self._local_lock(name)
                try:
                    lock.acquire(0.0, purpose)
                except DeviceBusy:
                    continue
                try:
                    self._release_dead_run(name, state.reservation)
                finally:
                    lock.release()
        token = self.client.reserve(tags)
        try:
            allocated = self.client.wait_reservation(token, timeout_s)
            if allocated is None:
                self._busy.append(busy_tagged_places(self.client.places(), tags))
                got = False
            else:
                got = self._try_place(allocated.name, purpose, token, allocated)
        except BaseException:
            self.client.cancel_reservation(token)
            raise
        if got:
            self._token = token  # cancelled when the place is released
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
            if token is not None:  # first: a released place stays reserved for us until this
                self.client.cancel_reservation(token)
            self.client.release(self.place)
        except (LabgridError, OSError) as err:
            print(f"hilsec: {err} (the next run on this host releases it)", file=sys.stderr)
        finally:
            lock.release()
