"""A labgrid place in the lab config, and how a run holds it: validation, acquisition, recovery.

The acquisition logic runs against a fake client (the coordinator's places as plain data); the
real coordinator and exporter are tests/test_labgrid_place.py's.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.config.lab import LabConfig, LabgridSettings
from harness.config.loader import load_lab_config
from harness.drivers import labgrid_place
from harness.drivers.labgrid_place import ExporterStream, LabgridPlace, serial_resource, serial_url
from harness.errors import ConfigError, DeviceDisconnected, DeviceError
from harness.lab import labgrid
from harness.lab.labgrid import (
    LabgridClient,
    LabgridError,
    LabgridTimeout,
    PlaceHold,
    PlaceResource,
    PlaceState,
    busy_tagged_places,
    this_holder,
)
from harness.lab.locks import DeviceBusy, DeviceLock
from harness.plugin.pool import lock_key

COORDINATOR = "127.0.0.1:20408"
PROFILE = {
    "kind": "device-profile",
    "name": "board",
    "vendor": "Bench",
    "model": "Board",
    "firmware_version": "1.0",
    "console": {"serial": {"port": "console"}},
    "login": {"username": "root", "password": "pw"},
}


# --- the lab config ---------------------------------------------------------------------------


def _lab(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text("kind: lab-config\n" + text)
    return path


def test_a_place_by_name_or_by_tags_validates(tmp_path: Path) -> None:
    lab = load_lab_config(_lab(tmp_path, f"labgrid: {{coordinator: '{COORDINATOR}', place: rack1-board3}}\n"))
    assert lab.labgrid is not None and lab.labgrid.place == "rack1-board3" and lab.labgrid.power
    lab = load_lab_config(
        _lab(tmp_path, f"labgrid: {{coordinator: '{COORDINATOR}', tags: {{board: imx8}}}}\n")
    )
    assert lab.labgrid is not None and lab.labgrid.tags == {"board": "imx8"} and lab.labgrid.place is None


@pytest.mark.parametrize(
    ("labgrid_yaml", "field", "says"),
    [
        (f"{{coordinator: '{COORDINATOR}'}}", "labgrid", "neither place nor tags"),
        (f"{{coordinator: '{COORDINATOR}', place: a, tags: {{board: x}}}}", "labgrid", "both place and tags"),
        ("{coordinator: somewhere, place: a}", "labgrid.coordinator", "HOST:PORT"),
        (f"{{coordinator: '{COORDINATOR}', place: 'a b'}}", "labgrid.place", "letters, digits"),
        (f"{{coordinator: '{COORDINATOR}', tags: {{Board: x}}}}", "labgrid.tags", "not a labgrid tag"),
        (f"{{coordinator: '{COORDINATOR}', place: a, serial: x}}", "labgrid.serial", ""),
    ],
)
def test_a_wrong_place_is_one_line_naming_the_field(
    tmp_path: Path, labgrid_yaml: str, field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_lab_config(_lab(tmp_path, f"labgrid: {labgrid_yaml}\n"))
    message = str(raised.value)
    assert "\n" not in message and f": {field}" in message and says in message, message


def test_a_pool_device_has_its_own_place(tmp_path: Path) -> None:
    from harness.plugin.pool import candidates

    profile = tmp_path / "board.yaml"
    profile.write_text(json.dumps(PROFILE))
    lab = load_lab_config(
        _lab(
            tmp_path,
            f"pool:\n  - {{name: a, profile: {profile}, labgrid: {{coordinator: '{COORDINATOR}', place: pa}}}}\n"
            f"  - {{name: b, profile: {profile}, labgrid: {{coordinator: '{COORDINATOR}', place: pb}}}}\n",
        )
    )
    found = candidates(None, None, lab)
    assert [device.lab.labgrid.place for device in found] == ["pa", "pb"]
    assert lock_key(found[0].profile, found[0].lab) != lock_key(found[1].profile, found[1].lab)


# --- holding a place (a fake coordinator) -----------------------------------------------------


@dataclass
class FakeClient:
    """The coordinator's places as data; each call is recorded."""

    states: dict[str, PlaceState]
    coordinator: str = COORDINATOR
    calls: list[str] = field(default_factory=list)
    allocate: str | None = None  # the place a reservation gets
    fail_release: bool = False
    acquire_raises: BaseException | None = None  # raised by acquire, after (Timeout, interrupt) or instead

    def places(self) -> dict[str, PlaceState]:
        return dict(self.states)

    def _set(self, place: str, acquired: str | None, reservation: str | None = None) -> None:
        old = self.states[place]
        self.states[place] = PlaceState(place, acquired, old.tags, reservation, old.resources)

    def acquire(self, place: str) -> None:
        self.calls.append(f"acquire {place}")
        if self.states[place].acquired:
            raise LabgridError(f"Place {place} is already acquired by {self.states[place].acquired}")
        if self.acquire_raises is not None:
            if type(self.acquire_raises) is not LabgridError:  # a refusal acquires nothing
                self._set(place, this_holder())
            raise self.acquire_raises
        self._set(place, this_holder())

    def release(self, place: str) -> None:
        self.calls.append(f"release {place}")
        if self.fail_release:
            raise LabgridError("labgrid: coordinator gone")
        self._set(place, None)

    def reserve(self, tags: dict[str, str]) -> str:
        self.calls.append(f"reserve {sorted(tags.items())}")
        return "TOKEN"

    def wait_reservation(self, token: str, timeout_s: float) -> PlaceState | None:
        if self.allocate is None:
            return None
        self._set(self.allocate, self.states[self.allocate].acquired, token)
        return self.states[self.allocate]

    def cancel_reservation(self, token: str) -> None:
        self.calls.append(f"cancel {token}")


def _state(name: str, acquired: str | None = None, reservation: str | None = None, **tags: str) -> PlaceState:
    return PlaceState(name, acquired, tags, reservation, ())


def _hold(tmp_path: Path, client: FakeClient, **settings) -> PlaceHold:
    return PlaceHold(LabgridSettings(coordinator=COORDINATOR, **settings), tmp_path / "locks", client)


def test_a_free_place_is_acquired_and_released(tmp_path: Path) -> None:
    client = FakeClient({"p1": _state("p1")})
    hold = _hold(tmp_path, client, place="p1")
    hold.acquire()
    assert hold.held and client.states["p1"].acquired == this_holder()
    hold.release()
    assert not hold.held and client.states["p1"].acquired is None
    assert client.calls == ["acquire p1", "release p1"]


def test_a_place_another_user_holds_is_refused_naming_them(tmp_path: Path) -> None:
    client = FakeClient({"p1": _state("p1", "otherhost/alice")})
    with pytest.raises(DeviceBusy, match="acquired by otherhost/alice") as raised:
        _hold(tmp_path, client, place="p1").acquire(0.0)
    assert "--hilsec-wait" in str(raised.value)
    assert client.calls == []  # nothing kicked, nothing acquired


def test_a_place_our_dead_run_left_acquired_is_released_and_acquired(tmp_path: Path) -> None:
    client = FakeClient({"p1": _state("p1", this_holder())})  # acquired by us, but no run holds the flock
    hold = _hold(tmp_path, client, place="p1")
    hold.acquire()
    assert client.calls == ["release p1", "acquire p1"] and hold.recovered == ["p1"]


def test_a_place_a_live_run_of_ours_holds_is_left_alone(tmp_path: Path) -> None:
    client = FakeClient({"p1": _state("p1")})
    first = _hold(tmp_path, client, place="p1")
    first.acquire()
    second = _hold(tmp_path, client, place="p1")
    with pytest.raises(DeviceBusy, match="held on this host by pid"):
        second.acquire(0.0)
    assert client.calls == ["acquire p1"]  # the live holder's acquisition was not taken away
    first.release()


def test_a_busy_place_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labgrid, "POLL_S", 0.05)
    client = FakeClient({"p1": _state("p1", "otherhost/alice")})
    threading.Timer(0.3, lambda: client._set("p1", None)).start()
    started = time.monotonic()
    _hold(tmp_path, client, place="p1").acquire(wait_s=10.0)
    assert time.monotonic() - started < 5.0 and client.states["p1"].acquired == this_holder()


def test_a_place_the_coordinator_does_not_know_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(LabgridError, match=r"no place 'p9' \(it has: p1\)"):
        _hold(tmp_path, FakeClient({"p1": _state("p1")}), place="p9").acquire()
    assert not DeviceLock(f"labgrid-{COORDINATOR}-p9", tmp_path / "locks")._fd  # and the flock was let go


def test_tags_reserve_any_matching_place_and_clear_our_dead_runs_first(tmp_path: Path) -> None:
    client = FakeClient(
        {"a": _state("a", this_holder(), board="imx8"), "b": _state("b", board="imx8")}, allocate="b"
    )
    hold = _hold(tmp_path, client, tags={"board": "imx8"})
    hold.acquire()
    assert hold.place == "b" and client.calls == ["release a", "reserve [('board', 'imx8')]", "acquire b"]
    assert hold.held_settings().place == "b"  # the run's drivers use the place it was allocated
    hold.release()
    # The reservation first: once released, the place would stay reserved for us (labgrid keeps an
    # allocated reservation a minute), and other users be refused it meanwhile.
    assert client.calls[-2:] == ["cancel TOKEN", "release b"]


def test_tags_without_a_free_place_are_refused(tmp_path: Path) -> None:
    client = FakeClient({"a": _state("a", "otherhost/alice", board="imx8")})
    with pytest.raises(DeviceBusy, match=r"no place with these tags free \(a acquired by otherhost/alice\)"):
        _hold(tmp_path, client, tags={"board": "imx8"}).acquire(0.0)
    assert client.calls[-1] == "cancel TOKEN"


def test_tags_no_place_has_are_an_error_naming_them(tmp_path: Path) -> None:
    client = FakeClient({"a": _state("a", board="imx8")})
    with pytest.raises(LabgridError, match=r"has no place with tags board=rpi4"):
        _hold(tmp_path, client, tags={"board": "rpi4"}).acquire(60.0)  # at once, not after the wait
    assert client.calls == []  # no reservation that could never be allocated


def test_a_dead_runs_place_is_released_with_the_reservation_it_was_allocated_by(tmp_path: Path) -> None:
    client = FakeClient({"p1": _state("p1", this_holder(), reservation="OLD")})
    hold = _hold(tmp_path, client, place="p1")
    hold.acquire()
    assert client.calls == ["cancel OLD", "release p1", "acquire p1"] and hold.recovered == ["p1"]
    assert hold.held_settings() is hold.settings  # by name: the settings already name the place


def test_a_place_allocated_to_another_reservation_is_busy(tmp_path: Path) -> None:
    client = FakeClient({"p1": _state("p1", reservation="THEIRS")})
    with pytest.raises(DeviceBusy, match="place p1 allocated to labgrid reservation THEIRS"):
        _hold(tmp_path, client, place="p1").acquire(0.0)
    assert client.calls == []  # the coordinator would refuse us; nothing to kick


@pytest.mark.parametrize(
    ("raised", "given_back"),
    [
        (KeyboardInterrupt("signal SIGTERM"), True),  # interrupted while the coordinator acquired
        (LabgridTimeout("labgrid: `labgrid-client -p p1 acquire` did not finish within 30 s"), True),
        (LabgridError("labgrid: `labgrid-client -p p1 acquire` failed: already acquired"), False),
    ],
    ids=["interrupted", "overran", "refused"],
)
def test_an_acquire_that_may_have_happened_is_given_back(
    tmp_path: Path, raised: BaseException, given_back: bool
) -> None:
    client = FakeClient({"p1": _state("p1")}, acquire_raises=raised)
    hold = _hold(tmp_path, client, place="p1")
    with pytest.raises(type(raised)):
        hold.acquire(0.0)
    assert not hold.held and client.states["p1"].acquired is None
    assert client.calls == (["acquire p1", "release p1"] if given_back else ["acquire p1"])
    assert not DeviceLock(f"labgrid-{COORDINATOR}-p1", tmp_path / "locks")._fd  # the flock went too
    DeviceLock(f"labgrid-{COORDINATOR}-p1", tmp_path / "locks").acquire(0.0)  # free for the next run


def test_busy_tagged_places_say_who_holds_or_reserved_each() -> None:
    states = {
        "a": _state("a", "h/alice", board="x"),
        "b": _state("b", reservation="R", board="x"),
        "c": _state("c", board="y"),
    }
    said = busy_tagged_places(states, {"board": "x"})
    assert said == "no place with these tags free (a acquired by h/alice; b reserved by another reservation)"
    assert busy_tagged_places({}, {"board": "x"}) == "no place with these tags free"


def test_client_commands_leave_out_the_callers_labgrid_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's LG_ENV names RemotePlaces: labgrid-client would act on them instead of -p's place."""
    from harness.util.processes import CommandOutcome

    seen: list[tuple[str, dict[str, str]]] = []

    def run_shell(command: str, timeout: float, env=None) -> CommandOutcome:
        seen.append((command, dict(env or {})))
        return CommandOutcome(command, 0, "")

    monkeypatch.setattr(labgrid, "run_shell", run_shell)
    for name in ("LG_ENV", "LG_PLACE", "LG_TOKEN", "LG_STATE"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("LG_USERNAME", "ci-runner")
    client = LabgridClient(COORDINATOR, 5)
    client.acquire("p1")
    client.release("p1")
    (acquire, env), (release, _) = seen
    assert "-p p1 acquire" in acquire and f"-p p1 release-from {this_holder()}" in release
    assert not {"LG_ENV", "LG_PLACE", "LG_TOKEN", "LG_STATE"} & env.keys()
    assert env["LG_USERNAME"] == "ci-runner"  # who the run is, as labgrid names it, stays


def test_a_reservation_is_waited_for_only_when_there_is_time(monkeypatch: pytest.MonkeyPatch) -> None:
    client = LabgridClient(COORDINATOR, 5)
    commands: list[tuple[tuple[str, ...], float | None]] = []
    monkeypatch.setattr(
        client, "_run", lambda *args, timeout_s=None, check=True: commands.append((args, timeout_s)) or ""
    )
    monkeypatch.setattr(client, "places", lambda: {"p1": _state("p1"), "p2": _state("p2", reservation="TOK")})
    assert client.wait_reservation("TOK", 0.0).name == "p2" and commands == []  # allocated when made
    assert client.wait_reservation("OTHER", 7.0) is None and commands == [(("wait", "OTHER"), 7.0)]


def test_a_failed_release_drops_the_flock_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    client = FakeClient({"p1": _state("p1")})
    hold = _hold(tmp_path, client, place="p1")
    hold.acquire()
    client.fail_release = True
    hold.release()
    assert "coordinator gone" in capsys.readouterr().err
    client.fail_release = False
    again = _hold(tmp_path, client, place="p1")
    again.acquire()  # the flock is free, and the place ours: the next run recovers it
    assert again.recovered == ["p1"]


# --- the place's console and power ------------------------------------------------------------


def _serial(name: str = "RawSerialPort", **params) -> PlaceResource:
    return PlaceResource(
        "exp1", "board", "NetworkSerialPort", name, {"host": "10.1.2.3", "port": 4001, **params}, True
    )


def test_the_console_is_the_places_serial_port_over_rfc2217_or_raw_tcp() -> None:
    state = PlaceState("p1", this_holder(), {}, None, (_serial(),))
    assert serial_url(serial_resource(state, "console")) == "rfc2217://10.1.2.3:4001"
    assert serial_url(_serial(protocol="raw")) == "socket://10.1.2.3:4001"
    two = PlaceState("p1", this_holder(), {}, None, (_serial("uart0"), _serial("uart1", port=4002)))
    assert serial_url(serial_resource(two, "uart1")) == "rfc2217://10.1.2.3:4002"
    with pytest.raises(DeviceError, match="no serial port 'console'.*uart0, uart1"):
        serial_resource(two, "console")


def test_a_console_the_exporter_no_longer_serves_names_the_exporter() -> None:
    gone = PlaceResource(
        "exp1", "board", "NetworkSerialPort", "RawSerialPort", {"host": "h", "port": None}, False
    )
    with pytest.raises(DeviceDisconnected, match="labgrid exporter exp1 does not serve the console"):
        serial_url(gone)


class _DeadStream:
    description = "serial rfc2217://h:1 @115200"

    def read(self, size: int, timeout: float) -> bytes:
        raise DeviceDisconnected("connection failed (reader thread died)")

    write = read  # type: ignore[assignment]

    def close(self) -> None:
        pass


def test_a_lost_stream_names_the_exporter_and_what_the_coordinator_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place = LabgridPlace(LabgridSettings(coordinator=COORDINATOR, place="p1"))
    gone = PlaceResource(
        "exp1", "board", "NetworkSerialPort", "RawSerialPort", {"host": "h", "port": None}, False
    )
    monkeypatch.setattr(place, "state", lambda: PlaceState("p1", this_holder(), {}, None, (gone,)))
    stream = ExporterStream(_DeadStream(), place, _serial())
    with pytest.raises(DeviceDisconnected) as raised:
        stream.read(10, 1.0)
    message = str(raised.value)
    assert "through exporter exp1 lost" in message and "does not serve the console" in message, message


def test_a_place_this_run_does_not_hold_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    place = LabgridPlace(LabgridSettings(coordinator=COORDINATOR, place="p1"))
    monkeypatch.setattr(place.client, "places", lambda: {"p1": _state("p1", "otherhost/alice")})
    with pytest.raises(DeviceError, match="not held by this run \\(acquired by otherhost/alice\\)"):
        place.state()


def test_the_factory_picks_the_place_for_console_and_power(tmp_path: Path) -> None:
    from harness.capabilities import ConsolePort, Power
    from harness.config import DeviceProfile
    from harness.device.factory import build_capabilities
    from harness.device.registry import BuildContext

    profile = DeviceProfile.model_validate({k: v for k, v in PROFILE.items() if k != "kind"})
    lab = LabConfig.model_validate({"labgrid": {"coordinator": COORDINATOR, "place": "p1"}})
    built = build_capabilities(BuildContext(profile, lab, tmp_path))
    assert isinstance(built[ConsolePort], labgrid_place.LabgridConsolePort)
    assert isinstance(built[Power], labgrid_place.LabgridPower)
    assert built[ConsolePort].place is built[Power].place  # one place for both
    no_power = LabConfig.model_validate(
        {"labgrid": {"coordinator": COORDINATOR, "place": "p1", "power": False}}
    )
    assert Power not in build_capabilities(BuildContext(profile, no_power, tmp_path))
    local = LabConfig.model_validate(
        {
            "labgrid": {"coordinator": COORDINATOR, "place": "p1"},
            "serial_ports": {"console": {"url": "/dev/ttyUSB0"}},
        }
    )
    assert not isinstance(
        build_capabilities(BuildContext(profile, local, tmp_path))[ConsolePort],
        labgrid_place.LabgridConsolePort,
    )


def test_power_the_exporter_no_longer_serves_names_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    place = LabgridPlace(LabgridSettings(coordinator=COORDINATOR, place="p1"))
    gone = PlaceResource("exp1", "board", "NetworkPowerPort", "NetworkPowerPort", {}, False)
    monkeypatch.setattr(place, "state", lambda: PlaceState("p1", this_holder(), {}, None, (gone,)))

    def fails(name: str, action: str) -> None:
        raise LabgridError("labgrid: `labgrid-client -p p1 power cycle` failed: Server error")

    monkeypatch.setattr(place.client, "power", fails)
    with pytest.raises(
        DeviceDisconnected, match="power cycle of labgrid place p1 .*exporter exp1 does not serve"
    ):
        labgrid_place.LabgridPower(place).cycle()


def test_an_unreachable_coordinator_is_a_bounded_one_line_error(tmp_path: Path) -> None:
    from harness.util.ports import free_port

    coordinator = f"127.0.0.1:{free_port()}"  # nothing listens there
    hold = PlaceHold(LabgridSettings(coordinator=coordinator, place="p1", timeout_s=20), tmp_path / "locks")
    with pytest.raises(LabgridError) as raised:
        hold.acquire(0.0)
    assert f"could not read coordinator {coordinator}" in str(raised.value) and "\n" not in str(raised.value)
    assert not hold.held


def test_a_session_whose_coordinator_is_unreachable_exits_naming_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.util.ports import free_port

    coordinator = f"127.0.0.1:{free_port()}"
    pytester.makefile(".yaml", board=json.dumps(PROFILE))
    pytester.makefile(
        ".yaml",
        lab=json.dumps({"kind": "lab-config", "labgrid": {"coordinator": coordinator, "place": "p1"}}),
    )
    pytester.makepyfile("def test_nothing(device):\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))  # this tree's harness
    result = pytester.runpytest_subprocess("--device-profile", "board.yaml", "--lab-config", "lab.yaml")
    assert result.ret == 69, result.stdout.str()[-2000:]  # EX_UNAVAILABLE: a lab service is not there
    assert f"could not read coordinator {coordinator}" in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
