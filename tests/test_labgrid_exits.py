"""A run holding a labgrid place gives it back however it ends, and reserves any place by tags:
a real coordinator and exporter on loopback (tests/support/labgrid_lab.py), no board.

hilsec takes the session's place when the session starts, before any test, so a run can hold one
without a console: the runs here are pytest processes of a small conceptual suite (written below)
whose first test says which place the run drives and then waits, bounded, for the test to let it
go or interrupt it. After each run the coordinator has the place free and unreserved, another
user (alice) acquires it at once, and the run's report directory is written:

- SIGTERM (a cancelled CI job) and SIGINT (Ctrl-C) to the run's process group mid-test;
- a suite's own hooks raising mid-run (pytest's INTERNALERROR), in pytest_sessionfinish and in
  pytest_unconfigure (hilsec's report comes before the suite's sessionfinish, and the release is
  a config cleanup, which runs after every unconfigure whatever they raise);
- by tags: two runs get the two tagged places the coordinator allocates them by reservation, each
  driving its own; a third is refused after its wait naming the holders and leaves no reservation;
  a fourth waits in its reservation and gets the place the first gives back; a run killed with
  SIGKILL leaves its place and reservation to the next run, which ends both and takes the place
  at once; at the end no reservation is left.

Each run costs a pytest start and a few labgrid-client calls (about half a second each), no QEMU.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from support.labgrid_lab import (
    STOP_TIMEOUT_S,
    client,
    labgrid_installed,
    reservations,
    start,
    start_places,
    wait_for,
)

from harness.lab.labgrid import LabgridClient, this_holder
from harness.util.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent
EXPORTER = "exits-exporter"
NAMED = ("sigterm", "sigint", "crash")  # a place of its own for each way a run ends
TAGGED = ("tagged-1", "tagged-2")
TAGS = {"board": "tagged"}
HOLD_S = 90.0  # the longest a run's first test waits to be let go or interrupted
RUN_TIMEOUT_S = 120.0
EXIT_INTERRUPTED, EXIT_DEVICE_BUSY = 2, 75

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not labgrid_installed(), reason="needs labgrid (pip install hilsec[labgrid])"),
]

SUITE = '''
"""Holds the session's labgrid place without touching a device, until let go or interrupted."""
import json, os
from pathlib import Path

import pytest

from harness.util.deadlines import wait_until

pytestmark = pytest.mark.conceptual


@pytest.mark.requirement("SSU-SEC-0030")
def test_holds_the_place(lab):
    holding, go = Path(os.environ["HILSEC_TEST_HOLDING"]), Path(os.environ["HILSEC_TEST_GO"])
    holding.write_text(json.dumps({"pid": os.getpid(), "place": lab.labgrid.place}))
    assert wait_until(go.exists, float(os.environ["HILSEC_TEST_HOLD_S"]), 0.1), "never let go"


@pytest.mark.requirement("SSU-SEC-0020")
def test_after_it():
    pass
'''

CONFTEST = '''
"""With HILSEC_TEST_CRASH set, a suite's own hooks crash wherever they can (a plugin gone wrong):
mid-run (pytest's INTERNALERROR), at the session's end, and at unconfigure."""
import os

CRASH = bool(os.environ.get("HILSEC_TEST_CRASH"))


def pytest_runtest_logreport(report):
    if CRASH and report.when == "call":
        raise RuntimeError("a suite's hook crashed mid-run")


def pytest_sessionfinish(session):
    if CRASH:
        raise RuntimeError("a suite's sessionfinish crashed")


def pytest_unconfigure(config):
    if CRASH:
        raise RuntimeError("a suite's unconfigure crashed")
'''

PROFILE = {
    "kind": "device-profile",
    "name": "held-board",
    "vendor": "Bench",
    "model": "Board",
    "firmware_version": "1.0",
    "console": {"serial": {"port": "console"}},
    "login": {"username": "root", "password": "pw"},
}


@dataclass
class Run:
    name: str
    process: subprocess.Popen
    report: Path
    log: Path
    holding: Path
    go: Path

    def held_place(self) -> str:
        """The place the run's drivers use, once its first test runs."""
        wait_for(
            f"run {self.name} to hold its place", self.holding.exists, RUN_TIMEOUT_S, self.process, self.log
        )
        return json.loads(self.holding.read_text())["place"]

    def finish(self) -> str:
        try:
            self.process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_process(self.process, STOP_TIMEOUT_S, group=True, graceful=False)
            raise AssertionError(f"run {self.name} overran {RUN_TIMEOUT_S:.0f} s") from None
        return self.log.read_text(errors="replace")

    def verdicts(self) -> dict[str, tuple[str, str]]:
        data = json.loads((self.report / "results.json").read_text())
        runs = data if isinstance(data, list) else data.get("devices") or [data]
        return {
            t["nodeid"].split("::")[-1]: (t["verdict"], t.get("reason") or "")
            for run in runs
            for t in run.get("tests", [])
        }


@dataclass
class Lab:
    workdir: Path
    coordinator: str
    client: LabgridClient
    suite: Path
    profile: Path
    runs: list[Run] = field(default_factory=list)  # stopped with the lab, should a test fail mid-run

    def lab_config(self, name: str, **labgrid: object) -> Path:
        path = self.workdir / f"{name}.lab.yaml"
        data = {
            "kind": "lab-config",
            "labgrid": {"coordinator": self.coordinator, "timeout_s": 30, **labgrid},
            "locks_dir": str(self.workdir / "locks"),
        }
        path.write_text(yaml.safe_dump(data))
        return path

    def run(self, name: str, lab_config: Path, *args: str, crash: bool = False) -> Run:
        report, log = self.workdir / name, self.workdir / f"{name}.log"
        holding, go = self.workdir / f"{name}.holding", self.workdir / f"{name}.go"
        argv = [
            sys.executable, "-m", "pytest", str(self.suite), "-p", "no:cacheprovider", "-p", "no:labgrid",
            "-p", "no:hypothesispytest",  # a second of start-up a run, for nothing this suite uses
            "--device-profile", str(self.profile), "--lab-config", str(lab_config), "--report-dir", str(report),
            "-v", *args,
        ]  # fmt: skip
        env = {
            **os.environ,
            "HILSEC_TEST_HOLDING": str(holding),
            "HILSEC_TEST_GO": str(go),
            "HILSEC_TEST_HOLD_S": str(HOLD_S),
            "HILSEC_TEST_CRASH": "1" if crash else "",
        }
        run = Run(name, start(argv, log, ROOT, env), report, log, holding, go)
        self.runs.append(run)
        return run

    def acquired_by(self, place: str) -> str | None:
        return self.client.places()[place].acquired

    def reservations(self) -> dict[str, str]:
        return reservations(self.coordinator)

    def assert_free_for_others(self, place: str) -> None:
        """Another user acquires it at once: it is neither acquired nor reserved for us. (Alice
        keeps it: no later test uses the place.)"""
        taken = client(self.coordinator, "-p", place, "acquire", user="alice", check=False)
        assert taken.returncode == 0, taken.stdout + taken.stderr


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp("labgrid-exits")
    places = {name: dict(TAGS) if name in TAGGED else {} for name in (*NAMED, *TAGGED)}
    started, coordinator = start_places(workdir, EXPORTER, places)
    try:
        suite = workdir / "suite"
        suite.mkdir()
        (suite / "test_hold.py").write_text(SUITE)
        (suite / "conftest.py").write_text(CONFTEST)
        profile = workdir / "board.yaml"
        profile.write_text(yaml.safe_dump(PROFILE))
        made = Lab(workdir, coordinator, LabgridClient(coordinator, 30), suite / "test_hold.py", profile)
        yield made
        for run in made.runs:
            stop_process(run.process, STOP_TIMEOUT_S, group=True, graceful=False)
    finally:
        for process in reversed(started):
            stop_process(process, STOP_TIMEOUT_S)


def _assert_report_written(run: Run, log: str) -> dict[str, tuple[str, str]]:
    for name in ("results.json", "report.html", "junit.xml"):
        assert (run.report / name).is_file(), f"{name} missing\n{log[-3000:]}"
    return run.verdicts()


def test_sigterm_and_sigint_mid_run_release_the_place_and_write_the_report(lab: Lab) -> None:
    names = {signal.SIGTERM: "sigterm", signal.SIGINT: "sigint"}
    runs = {sig: lab.run(name, lab.lab_config(name, place=name)) for sig, name in names.items()}
    for sig, run in runs.items():
        assert run.held_place() == run.name and lab.acquired_by(run.name) == this_holder()
        os.killpg(run.process.pid, sig)  # the whole group, as a CI runner or a terminal's Ctrl-C does
    for sig, run in runs.items():
        log = run.finish()
        assert run.process.returncode == EXIT_INTERRUPTED, f"{sig.name}\n{log[-3000:]}"
        verdict, reason = _assert_report_written(run, log)["test_holds_the_place"]
        assert verdict == "INCONCLUSIVE" and "interrupted" in reason, (sig.name, verdict, reason)
        lab.assert_free_for_others(run.name)


def test_a_run_whose_hooks_raise_releases_the_place_and_writes_the_report(lab: Lab) -> None:
    run = lab.run("crash", lab.lab_config("crash", place="crash"), crash=True)
    assert run.held_place() == "crash"
    run.go.touch()
    log = run.finish()
    assert run.process.returncode != 0, log[-3000:]
    for said in ("hook crashed mid-run", "sessionfinish crashed", "unconfigure crashed"):
        assert f"RuntimeError: a suite's {said}" in log, log[-3000:]
    assert _assert_report_written(run, log)["test_holds_the_place"][0] == "PASS"
    lab.assert_free_for_others("crash")


def test_tags_reserve_any_free_place_wait_for_one_and_end_the_reservation(lab: Lab) -> None:
    tagged = lab.lab_config("tagged", tags=TAGS)
    first, second = lab.run("tags-first", tagged), lab.run("tags-second", tagged)
    first_place, second_place = first.held_place(), second.held_place()
    assert {first_place, second_place} == set(TAGGED)  # each run drives the place it was allocated
    assert lab.acquired_by(first_place) == lab.acquired_by(second_place) == this_holder()
    assert sorted(lab.reservations().values()) == ["acquired", "acquired"]

    refused = lab.run("tags-refused", tagged, "--hilsec-wait", "2")
    waiting = lab.run("tags-waiting", tagged, "--hilsec-wait", "60")
    log = refused.finish()
    assert refused.process.returncode == EXIT_DEVICE_BUSY, log[-3000:]
    assert "after waiting 2 s" in log and "no place with these tags free" in log, log[-3000:]
    assert all(f"{place} acquired by {this_holder()}" in log for place in TAGGED), log[-3000:]

    # The refused run cancelled its reservation; the waiting run's waits (and stays alive) meanwhile.
    def only_the_waiting_one_waits() -> bool:
        return sorted(lab.reservations().values()) == ["acquired", "acquired", "waiting"]

    wait_for(
        "the waiting run's reservation",
        only_the_waiting_one_waits,
        RUN_TIMEOUT_S,
        waiting.process,
        waiting.log,
    )

    first.go.touch()  # the first run ends: the coordinator allocates its place to the waiting one
    log = first.finish()
    assert first.process.returncode == 0, log[-3000:]
    assert _assert_report_written(first, log)["test_holds_the_place"][0] == "PASS"
    said = json.loads((first.report / "results.json").read_text())["device"]["labgrid"]
    assert said == {"coordinator": lab.coordinator, "place": first_place, "tags": TAGS}  # the board it was
    assert waiting.held_place() == first_place
    waiting.go.touch()
    log = waiting.finish()
    assert waiting.process.returncode == 0, log[-3000:]

    os.killpg(second.process.pid, signal.SIGKILL)  # no teardown at all: place and reservation stay
    second.process.wait(timeout=STOP_TIMEOUT_S)
    assert lab.acquired_by(second_place) == this_holder()
    assert list(lab.reservations().values()) == ["acquired"]
    client(lab.coordinator, "-p", first_place, "acquire", user="alice")  # only the dead run's place is left
    try:
        after = lab.run("tags-after-kill", tagged)
        assert after.held_place() == second_place  # at once: the dead run's reservation did not keep it
        after.go.touch()
        log = after.finish()
        assert after.process.returncode == 0, log[-3000:]
        assert "left acquired by a run" in log and "died: released it" in log, log[-3000:]
    finally:
        client(lab.coordinator, "-p", first_place, "release", user="alice", check=False)
    assert lab.reservations() == {}  # every run ended its reservation with its hold, or the next did
    for place in TAGGED:
        lab.assert_free_for_others(place)
