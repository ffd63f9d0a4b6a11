"""Many boards, one run, on another host: `pytest -n 2` with a pool of two devices that reserve by
the same labgrid tags, against a real coordinator and exporter on loopback
(tests/support/labgrid_lab.py), no board.

The controller reserves a place per pool device before any worker starts, and hands each worker
the place it was allocated. The suite (written below) has each worker say which pool device and
place it drives, then wait, bounded, until the test has seen both workers hold theirs at once.
The test asserts that the two workers drove two different places, each acquired by this host and
user under its own reservation while held; that the run's one report directory has both devices'
runs, each naming the place it was; and that at the end no place is acquired and no reservation
is left.

One run costs a pytest start with two workers and a few labgrid-client calls, no QEMU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml
from support.labgrid_lab import (
    STOP_TIMEOUT_S,
    labgrid_installed,
    reservations,
    start,
    start_places,
    wait_for,
)

from harness.lab.labgrid import LabgridClient, this_holder
from harness.report.json_report import results_schema
from harness.report.manifest import verify_report
from harness.util.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent
EXPORTER = "xdist-exporter"
PLACES = ("rack-1", "rack-2")
TAGS = {"board": "pooled"}
DEVICES = ("board-a", "board-b")
WORKERS = ("gw0", "gw1")
HOLD_S = 60.0  # the longest a worker waits to be let go
RUN_TIMEOUT_S = 90.0

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not labgrid_installed(), reason="needs labgrid (pip install hilsec[labgrid])"),
    pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist"),
]

SUITE = '''
"""Says which pool device and labgrid place this worker drives, then waits until let go."""
import json, os
from pathlib import Path

import pytest

from harness.util.deadlines import wait_until

pytestmark = pytest.mark.conceptual


@pytest.mark.requirement("SSU-SEC-0030")
def test_holds_the_place(hilsec_state, lab):
    folder = Path(os.environ["HILSEC_TEST_HOLDING"])
    said = {"pid": os.getpid(), "device": hilsec_state.device_name, "place": lab.labgrid.place}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    partial = folder / f"{worker}.partial"
    partial.write_text(json.dumps(said))
    partial.replace(folder / f"{worker}.json")  # whole when the test reads it
    assert wait_until((folder / "go").exists, float(os.environ["HILSEC_TEST_HOLD_S"]), 0.1), "never let go"
'''

PROFILE = {
    "kind": "device-profile",
    "name": "pooled-board",
    "vendor": "Bench",
    "model": "Board",
    "firmware_version": "1.0",
    "console": {"serial": {"port": "console"}},
    "login": {"username": "root", "password": "pw"},
}


@dataclass
class PoolRun:
    """One `pytest -n 2` run of the suite over the pool, and where it says what each worker holds."""

    process: subprocess.Popen
    report: Path
    log: Path
    holding: Path

    def held(self) -> dict[str, dict]:
        """Worker -> what it drives, once both workers' tests run (at once: neither ends before go)."""

        def both_hold() -> bool:
            return all((self.holding / f"{worker}.json").exists() for worker in WORKERS)

        wait_for("both workers to hold their places", both_hold, RUN_TIMEOUT_S, self.process, self.log)
        return {worker: json.loads((self.holding / f"{worker}.json").read_text()) for worker in WORKERS}

    def finish(self) -> str:
        (self.holding / "go").touch()
        try:
            self.process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_process(self.process, STOP_TIMEOUT_S, group=True, graceful=False)
            raise AssertionError(f"the run overran {RUN_TIMEOUT_S:.0f} s") from None
        return self.log.read_text(errors="replace")


@pytest.fixture
def pool_run(tmp_path: Path) -> Iterator[tuple[PoolRun, str]]:
    """The coordinator with two places carrying TAGS, and the run started over a pool whose two
    devices both reserve by TAGS; the processes are stopped however the test ends."""
    started, coordinator = start_places(tmp_path, EXPORTER, {place: dict(TAGS) for place in PLACES})
    run: PoolRun | None = None
    try:
        settings = {"coordinator": coordinator, "tags": dict(TAGS), "power": False, "timeout_s": 30}
        lab_config = tmp_path / "pool.lab.yaml"
        lab_config.write_text(yaml.safe_dump({
            "kind": "lab-config",
            "locks_dir": str(tmp_path / "locks"),
            "pool": [{"name": name, "labgrid": settings} for name in DEVICES],
        }))  # fmt: skip
        profile = tmp_path / "board.yaml"
        profile.write_text(yaml.safe_dump(PROFILE))
        suite = tmp_path / "suite"
        suite.mkdir()
        (suite / "test_hold.py").write_text(SUITE)
        holding = tmp_path / "holding"
        holding.mkdir()
        report, log = tmp_path / "report", tmp_path / "run.log"
        argv = [
            sys.executable, "-m", "pytest", str(suite / "test_hold.py"), "-p", "no:cacheprovider",
            "-p", "no:labgrid", "-p", "no:hypothesispytest", "-n", str(len(WORKERS)),
            "--device-profile", str(profile), "--lab-config", str(lab_config), "--report-dir", str(report), "-v",
        ]  # fmt: skip
        env = {**os.environ, "HILSEC_TEST_HOLDING": str(holding), "HILSEC_TEST_HOLD_S": str(HOLD_S)}
        run = PoolRun(start(argv, log, ROOT, env), report, log, holding)
        yield run, coordinator
    finally:
        if run is not None:
            stop_process(run.process, STOP_TIMEOUT_S, group=True, graceful=False)
        for process in reversed(started):
            stop_process(process, STOP_TIMEOUT_S)


def test_two_workers_reserving_by_tags_drive_two_places_and_merge_one_report(
    pool_run: tuple[PoolRun, str],
) -> None:
    run, coordinator = pool_run
    labgrid = LabgridClient(coordinator, 30)
    held = run.held()
    assert {said["place"] for said in held.values()} == set(PLACES), held  # two different places
    assert {said["device"] for said in held.values()} == set(DEVICES), held
    assert len({said["pid"] for said in held.values()}) == len(WORKERS), held
    states = labgrid.places()
    assert all(states[place].acquired == this_holder() for place in PLACES), states
    tokens = {states[place].reservation for place in PLACES}
    assert None not in tokens and len(tokens) == len(PLACES), states  # each by a reservation of its own
    assert reservations(coordinator) == dict.fromkeys(tokens, "acquired")

    log = run.finish()
    assert run.process.returncode == 0, log[-3000:]
    data = json.loads((run.report / "results.json").read_text())
    assert data["devices"] == list(DEVICES), log[-3000:]
    jsonschema.validate(data, results_schema(), cls=jsonschema.Draft202012Validator)
    runs = {entry["device"]["name"]: entry for entry in data["runs"]}
    drove = {said["device"]: said["place"] for said in held.values()}
    for device in DEVICES:  # each device's section says which place it was
        said = runs[device]["device"]["labgrid"]
        assert said == {"coordinator": coordinator, "place": drove[device], "tags": TAGS}, said
        html = (run.report / f"report-{device}.html").read_text()
        assert f"{drove[device]} at {coordinator}" in html
        verdicts = {t["nodeid"].split("::")[-1]: t["verdict"] for t in runs[device]["tests"]}
        assert verdicts == {"test_holds_the_place": "PASS"}, (device, verdicts)
    suites = ET.parse(run.report / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == [f"hilsec[{device}]" for device in DEVICES]
    assert verify_report(run.report).ok, verify_report(run.report).problems

    states = labgrid.places()
    assert all(states[place].acquired is None for place in PLACES), states
    assert reservations(coordinator) == {}  # each ended before its place was released
