"""A board on another host through labgrid: real coordinator and exporter, the bench twin as the board.

The module starts a real `labgrid-coordinator` and `labgrid-exporter` on loopback (free ports, temp
folders). The exporter exports the bench twin's serial port (the USB-UART stand-in's lab side,
served by the exporter's own ser2net over RFC 2217) and a NetworkPowerPort on a PDU stand-in (a
tiny HTTP server speaking labgrid's simplerest model that starts and kills the twin's QEMU). A
place matches both. hilsec runs, as separate pytest processes, only through the lab config's
`labgrid: {coordinator, place}` and a profile whose console is the place's serial port:

- a run holding the place refuses a second one naming it; killed with SIGKILL, it leaves the place
  acquired at the coordinator, and the next run releases and acquires it with nobody to call;
- that run's default-credential verdicts (the console part of the suite) equal the emulated run's
  of the same image;
- a place another user holds is refused naming them, or waited for (--hilsec-wait);
- the exporter stopping mid-test gives that test INCONCLUSIVE naming the exporter, and the report
  is written.

Both the remote and the emulated runs use testsuites/test_default_credentials.py as it is, copied
beside a conftest that gives it the first SHORT_LIST entries of the shipped list (they hold the
vulnerable image's root:admin): each refused console login costs the device's own fail delay, and
the whole list would take over 3 minutes a run on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.bench_twin import BenchTwin, reference_board, reference_profile_data
from support.labgrid_lab import (
    BIN,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    start_coordinator,
    start_exporter,
)
from support.labgrid_lab import client_env as _client_env
from support.labgrid_lab import start as _start
from support.labgrid_lab import wait_for as _wait_for
from support.pdu_standin import PduStandIn

from harness.config.credentials import load_default_credentials
from harness.lab.labgrid import LabgridClient, this_holder
from harness.lab.network import namespace_mode_available
from harness.util.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "vulnerable"  # accepts a default credential on its console: the verdict is FAIL, quickly
SUITE = ROOT / "testsuites/test_default_credentials.py"
SHORT_LIST = 4
CONSOLE_TESTS = "lab_credential or console_refuses"
CONSOLE_TEST = "test_console_refuses_default_credentials"
PLACE = "hilsec-twin"
RUN_TIMEOUT_S = 300.0
EXIT_DEVICE_BUSY = 75

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not namespace_mode_available()[0], reason="needs root, iproute2 and /dev/net/tun"),
]


@dataclass
class RemoteLab:
    """The coordinator, exporter, PDU stand-in and twin, and what a hilsec run needs to use them."""

    workdir: Path
    coordinator: str
    twin: BenchTwin
    pdu: PduStandIn
    exporter: subprocess.Popen
    profile: Path
    lab_config: Path
    client: LabgridClient
    suite: Path

    def acquired_by(self) -> str | None:
        return self.client.places()[PLACE].acquired

    def run(self, name: str, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
        """A hilsec run of the console tests against the place, in the background."""
        report = self.workdir / name
        log = self.workdir / f"{name}.log"
        argv = [
            sys.executable, "-m", "pytest", str(self.suite), "-p", "no:cacheprovider", "-p", "no:labgrid",
            "-k", CONSOLE_TESTS, "--device-profile", str(self.profile), "--lab-config", str(self.lab_config),
            "--report-dir", str(report), "-v", *args,
        ]  # fmt: skip
        return _start(argv, log, ROOT, {**os.environ, **(env or {})}), report

    def finish(self, process: subprocess.Popen, name: str, timeout_s: float = RUN_TIMEOUT_S) -> str:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
            raise AssertionError(f"run {name} overran {timeout_s:.0f} s") from None
        return (self.workdir / f"{name}.log").read_text(errors="replace")


def _short_suite(folder: Path) -> Path:
    """The real suite file beside a conftest giving it the head of the shipped default list."""
    folder.mkdir(parents=True, exist_ok=True)
    assert ("root", "admin") in load_default_credentials()[:SHORT_LIST]
    shutil.copy(SUITE, folder / SUITE.name)
    (folder / "conftest.py").write_text(
        "import pytest\n"
        "from harness.config.credentials import load_default_credentials\n\n\n"
        "@pytest.fixture(scope='session')\n"
        "def default_credentials():\n"
        f"    return load_default_credentials()[:{SHORT_LIST}]\n"
    )
    return folder / SUITE.name


def _results(report: Path) -> dict:
    return json.loads((report / "results.json").read_text())


def _verdicts(report: Path) -> dict[str, str]:
    data = _results(report)
    runs = data if isinstance(data, list) else data.get("devices") or [data]
    tests = {}
    for run in runs:
        for test in run.get("tests", []):
            tests[test["nodeid"].split("::")[-1]] = test["verdict"]
    return tests


def _reasons(report: Path) -> dict[str, str]:
    data = _results(report)
    runs = data if isinstance(data, list) else data.get("devices") or [data]
    return {t["nodeid"].split("::")[-1]: t.get("reason") or "" for run in runs for t in run.get("tests", [])}


def _exporter_config(twin: BenchTwin, pdu: PduStandIn, path: Path) -> Path:
    assert twin.uart is not None
    config = {
        "twin-board": {
            "RawSerialPort": {"port": twin.uart.lab_path, "speed": 115200},
            "NetworkPowerPort": {"model": "simplerest", "host": pdu.url, "index": 0},
        }
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def emulated_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, Path]]:
    """The same console tests against the emulated image, run beside the remote ones (2 cores)."""
    out = tmp_path_factory.mktemp("emulated")
    argv = [
        sys.executable, "-m", "pytest", str(_short_suite(out / "suite")), "-p", "no:cacheprovider", "-p", "no:labgrid",
        "-k", CONSOLE_TESTS, "--device-profile", str(ROOT / f"device_profiles/qemu-reference-{VARIANT}.yaml"),
        "--report-dir", str(out / "report"),
    ]  # fmt: skip
    process = _start(argv, out / "run.log", ROOT)
    yield process, out
    stop_process(process, STOP_TIMEOUT_S, group=True)


@pytest.fixture(scope="module")
def remote_lab(tmp_path_factory: pytest.TempPathFactory, emulated_run) -> Iterator[RemoteLab]:
    workdir = tmp_path_factory.mktemp("labgrid")
    started: list[subprocess.Popen] = []
    twin = BenchTwin("labgrid-twin", workdir / "twin", reference_board(VARIANT), console="pty", power=True)
    pdu = PduStandIn(
        lambda on: twin.power_on() if on else twin.power_off(), lambda: twin.board_pid is not None
    )
    try:
        # The coordinator keeps places.yaml in its working folder: a temp folder of its own.
        coordinator_process, coordinator = start_coordinator(workdir)
        started.append(coordinator_process)
        twin.profile_base = reference_profile_data(VARIANT)
        twin.edit_profile = lambda data: data.update(console={"serial": {"port": "console"}})
        twin.start()
        pdu.start()
        exporter = start_exporter(
            workdir, coordinator, _exporter_config(twin, pdu, workdir / "exporter.yaml")
        )
        started.append(exporter)
        env = _client_env(coordinator)
        client = str(BIN / "labgrid-client")
        for step in (
            ["create"],
            ["add-match", "twin-exporter/twin-board/*"],
            ["set-tags", "board=reference"],
        ):
            subprocess.run(
                [client, "-p", PLACE, *step],
                env=env,
                check=True,
                timeout=START_TIMEOUT_S,
                capture_output=True,
            )

        def remote(data: dict) -> None:
            data.pop("power", None)  # the place's power resource switches the board, not the lab's commands
            data["labgrid"] = {"coordinator": coordinator, "place": PLACE, "timeout_s": 30}
            data["locks_dir"] = str(workdir / "locks")

        lab_config = twin.write_lab_config(workdir / "remote.lab.yaml", edit=remote)
        yield RemoteLab(
            workdir,
            coordinator,
            twin,
            pdu,
            exporter,
            twin.profile_path,
            lab_config,
            LabgridClient(coordinator, 30),
            _short_suite(workdir / "suite"),
        )
    finally:
        for process in reversed(started):
            stop_process(process, STOP_TIMEOUT_S)
        pdu_thread = pdu.thread
        if pdu_thread.is_alive():
            pdu.stop()
        twin.stop()


def test_a_held_place_refuses_a_second_run_and_a_killed_run_leaves_it_to_the_next(
    remote_lab: RemoteLab, emulated_run
) -> None:
    first, _ = remote_lab.run("first")
    _wait_for("the first run to acquire the place", lambda: remote_lab.acquired_by() == this_holder(),
              RUN_TIMEOUT_S, first, remote_lab.workdir / "first.log")  # fmt: skip

    second, _ = remote_lab.run("second")
    log = remote_lab.finish(second, "second", 120)
    assert second.returncode == EXIT_DEVICE_BUSY, log[-2000:]
    assert f"labgrid place {PLACE}" in log and f"pid {first.pid}" in log, log[-2000:]  # names the holder

    os.killpg(first.pid, signal.SIGKILL)  # a cancelled CI job's hard kill: no teardown, no release
    first.wait(timeout=STOP_TIMEOUT_S)
    assert remote_lab.acquired_by() == this_holder()  # the coordinator still thinks we hold it

    third, report = remote_lab.run("third")
    log = remote_lab.finish(third, "third")
    assert "left acquired by a run" in log and "died: released it" in log, log[-3000:]
    assert remote_lab.acquired_by() is None, "the run released the place at its end"

    process, out = emulated_run
    process.wait(timeout=RUN_TIMEOUT_S)
    remote, emulated = _verdicts(report), _verdicts(out / "report")
    assert remote == emulated, f"remote {remote} != emulated {emulated}\n{log[-3000:]}"
    assert remote[CONSOLE_TEST] == "FAIL", remote  # the weak image's default credential was found
    transcript = next((report / "evidence").glob(f"*{CONSOLE_TEST}/console.log")).read_text(errors="replace")
    assert "login:" in transcript  # it went through the exporter's console
    assert (
        any(path.endswith("/1") for path in remote_lab.pdu.requests) or remote_lab.twin.board_pid is not None
    )


def test_a_place_another_user_holds_is_refused_naming_them_or_waited_for(remote_lab: RemoteLab) -> None:
    other = _client_env(remote_lab.coordinator, LG_USERNAME="alice")
    client = [str(BIN / "labgrid-client"), "-p", PLACE]
    subprocess.run([*client, "acquire"], env=other, check=True, timeout=START_TIMEOUT_S, capture_output=True)
    try:
        refused, _ = remote_lab.run("refused")
        log = remote_lab.finish(refused, "refused", 120)
        assert refused.returncode == EXIT_DEVICE_BUSY, log[-2000:]
        assert "acquired by " in log and "/alice" in log, log[-2000:]

        waiting, report = remote_lab.run("waiting", "--hilsec-wait", "120", "-k", "lab_credential")
        time.sleep(8)  # it is waiting now; alice releases
        subprocess.run(
            [*client, "release"], env=other, check=True, timeout=START_TIMEOUT_S, capture_output=True
        )
        log = remote_lab.finish(waiting, "waiting")
        assert waiting.returncode in (0, 1), log[-2000:]
        assert _verdicts(report), log[-2000:]
    finally:
        subprocess.run(
            [*client, "release", "--kick"], env=other, timeout=START_TIMEOUT_S, capture_output=True
        )


def test_the_exporter_stopping_mid_test_is_inconclusive_naming_it(remote_lab: RemoteLab) -> None:
    run, report = remote_lab.run("exporter-stops")

    def console_test_running() -> bool:
        logs = list((report / "evidence").glob(f"*{CONSOLE_TEST}/console.log")) if report.exists() else []
        return bool(logs) and logs[0].stat().st_size > 200

    _wait_for(
        "the console test to start",
        console_test_running,
        RUN_TIMEOUT_S,
        run,
        remote_lab.workdir / "exporter-stops.log",
    )
    stopped_at = time.monotonic()
    stop_process(remote_lab.exporter, STOP_TIMEOUT_S)  # SIGTERM: the exporter stops its ser2net and leaves
    log = remote_lab.finish(run, "exporter-stops")
    waited = time.monotonic() - stopped_at

    verdicts, reasons = _verdicts(report), _reasons(report)
    assert verdicts.get(CONSOLE_TEST) == "INCONCLUSIVE", f"{verdicts}\n{log[-3000:]}"
    assert "exporter twin-exporter" in reasons[CONSOLE_TEST], reasons[CONSOLE_TEST]
    for name in ("results.json", "report.html", "junit.xml"):
        assert (report / name).is_file(), name
    assert waited < RUN_TIMEOUT_S
