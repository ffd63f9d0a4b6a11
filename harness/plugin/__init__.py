"""The pytest plugin: options, the `requirement` marker, the `device` fixture, verdicts, reports.

Loaded through the `pytest11` entry point as `hilsec` (and by the checkout's conftest.py under the
same name, so `-p no:hilsec` disables it either way). It stays inert for test sessions that
neither name a device profile nor collect requirement-marked tests, so the harness's own tests
run with it installed. It follows pytest's ways of running: `-k` and `-m` deselect (a deselected
test is not in the report, so its requirement can be NOT_TESTED), `--collect-only` writes nothing,
`-n N` (pytest-xdist) merges every worker's results into the one report directory, and
pytest-timeout's `--timeout` / `@pytest.mark.timeout` replace the plugin's own per-test limit.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import __version__
from harness.capabilities import MissingCapability
from harness.errors import ConfigError, DeviceError, HarnessSetupError
from harness.plugin.conclusions import Inconclusive
from harness.plugin.interrupts import signals_held, sigterm_as_interrupt
from harness.plugin.records import TestRecord, verdict_of
from harness.results.evidence import Evidence
from harness.results.redact import redact_text
from harness.results.verdicts import Verdict
from harness.util.text import one_line

MARKER = "requirement"
WHOLE_RUN_MARKER = "whole_run"
_DEFAULT_TEST_TIMEOUT_S = 900.0


@dataclass
class HilsecState:
    """Per-session state, kept in the pytest config's stash."""

    report_dir: Path | None
    profile_path: Path | None
    lab_path: Path | None
    profile: Any = None
    lab: Any = None
    catalog: Any = None
    records: dict[str, TestRecord] = field(default_factory=dict)
    started: str = ""
    device: Any = None
    test_timeout_s: float = _DEFAULT_TEST_TIMEOUT_S
    worker_devices: list[dict[str, Any]] = field(default_factory=list)  # xdist: what each worker ran on
    device_name: str = ""  # the pool device this session (worker) drives; "" without a pool
    assignments: list[Any] = field(default_factory=list)  # devices this process holds (pool.Assignment)
    next_assignment: int = 0

    @property
    def active(self) -> bool:
        return self.profile_path is not None or self.has_pool or bool(self.records)

    @property
    def has_pool(self) -> bool:
        return self.lab is not None and bool(getattr(self.lab, "pool", None))

    def secrets(self) -> list[str]:
        from harness.lab.services.registry import lab_secrets

        return [*(self.profile.secrets() if self.profile is not None else ()), *lab_secrets()]


STATE = pytest.StashKey[HilsecState]()
RECORD = pytest.StashKey[TestRecord]()
_DEVICE_LOST = pytest.StashKey[bool]()  # the test ended on a device error: look at the device again


def _test_timeout(text: str) -> float:
    """A finite, positive number of seconds up to a day (inf or nan would never end a test)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86400:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 86400")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hilsec", "hilsec hardware-in-the-loop security tests")
    group.addoption("--device-profile", metavar="FILE", help="device profile (YAML) of the device under test")
    group.addoption("--lab-config", metavar="FILE", help="lab configuration (YAML): what is attached where")
    group.addoption("--report-dir", metavar="DIR", help="where results, reports and evidence are written")
    group.addoption(
        "--hilsec-test-timeout",
        metavar="SECONDS",
        type=_test_timeout,
        help=f"end any single security test as INCONCLUSIVE after this long (default {_DEFAULT_TEST_TIMEOUT_S:.0f})",
    )
    group.addoption(
        "--hilsec-keep-lab",
        action="store_true",
        help="keep the lab's working files (QEMU logs, full captures, lab servers' files) after the run",
    )
    group.addoption(
        "--hilsec-wait",
        metavar="SECONDS",
        type=float,
        default=0.0,
        help="wait this long for a device another session holds (default: refuse at once, naming the holder)",
    )
    parser.addini("hilsec_device_profile", "device profile (YAML), as --device-profile")
    parser.addini("hilsec_lab_config", "lab configuration (YAML), as --lab-config")
    parser.addini("hilsec_report_dir", "report directory, as --report-dir")


def _option_path(config: pytest.Config, option: str, ini: str) -> Path | None:
    value = config.getoption(option) or config.getini(ini)
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute() and not config.getoption(option):
        path = Path(config.rootpath) / path
    return path


_RESTORE_SIGTERM = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*ids): the requirement IDs (FS.25, FS.38, or cross references such as "
        "EN303645-5.1-1) this test gives evidence for; an unknown ID is a collection error",
    )
    config.addinivalue_line(
        "markers", "conceptual: the test assesses declared evidence (TS 103 701 conceptual assessment)"
    )
    config.addinivalue_line(
        "markers",
        f"{WHOLE_RUN_MARKER}: the test judges evidence of the whole run (every flow captured), so it "
        "runs after the session's other tests",
    )
    workerinput = getattr(config, "workerinput", None)
    shared_dir = workerinput.get("hilsec_report_dir") if workerinput else None
    state = HilsecState(
        report_dir=Path(shared_dir)
        if shared_dir
        else _option_path(config, "report_dir", "hilsec_report_dir"),
        profile_path=_option_path(config, "device_profile", "hilsec_device_profile"),
        lab_path=_option_path(config, "lab_config", "hilsec_lab_config"),
    )
    state.test_timeout_s = config.getoption("hilsec_test_timeout") or _DEFAULT_TEST_TIMEOUT_S
    config.stash[STATE] = state
    if not config.option.collectonly:
        config.stash[_RESTORE_SIGTERM] = sigterm_as_interrupt()
    if state.profile_path is not None or state.lab_path is not None:
        from harness.config import load_lab_config, load_profile

        try:
            state.lab = load_lab_config(state.lab_path) if state.lab_path else None
            if state.profile_path is None and not state.has_pool:
                pytest.exit(
                    "--lab-config needs --device-profile: name the device the bench tests", returncode=2
                )
            state.profile = load_profile(state.profile_path) if state.profile_path else None
            if workerinput and workerinput.get("hilsec_device"):
                _take_assignment(
                    state, str(workerinput["hilsec_device"]), workerinput.get("hilsec_labgrid_place")
                )
        except ConfigError as err:
            pytest.exit(str(err), returncode=2)


def _take_assignment(state: HilsecState, name: str, place: str | None = None) -> None:
    """An xdist worker: drive the pool device the controller holds for it (on `place`, the labgrid
    place the controller was allocated for the device's tags)."""
    from harness.plugin.pool import candidates

    for device in candidates(state.profile_path, state.profile, state.lab):
        if device.name == name:
            if place and device.lab is not None and device.lab.labgrid is not None:
                from harness.lab.labgrid import naming_place

                device.lab = device.lab.model_copy(
                    update={"labgrid": naming_place(device.lab.labgrid, place)}
                )
            state.profile, state.lab, state.profile_path = device.profile, device.lab, device.profile_path
            state.device_name = name
            return
    raise ConfigError("lab config", "pool", f"no device named {name!r}", "the controller's pool")


def _catalog(state: HilsecState) -> Any:
    if state.catalog is None:
        from harness.requirements import load_catalog

        state.catalog = load_catalog()
    return state.catalog


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Resolve every requirement marker now, so an unknown ID stops the run before any test."""
    state = config.stash[STATE]
    errors: list[str] = []
    for item in items:
        ids: list[str] = []
        for mark in item.iter_markers(MARKER):
            ids.extend(str(arg) for arg in mark.args)
        if not ids:
            continue
        try:
            requirements, crossrefs = _catalog(state).resolve(ids)
        except ValueError as err:
            errors.append(f"{item.nodeid}: {err}")
            continue
        kind = "conceptual" if item.get_closest_marker("conceptual") else "functional"
        record = TestRecord(item.nodeid, requirements, crossrefs, kind=kind, device=state.device_name)
        item.stash[RECORD] = record
        state.records[record.key] = record
    if errors:
        raise pytest.UsageError("unknown requirement ID in a marker:\n  " + "\n  ".join(errors))
    # Whole-run judges go last, so what every other test made the device do is in their evidence.
    items.sort(key=lambda item: item.get_closest_marker(WHOLE_RUN_MARKER) is not None)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """A test `-k`/`-m` deselected is not part of this run: no record, no verdict."""
    for item in items:
        record = item.stash.get(RECORD, None)
        if record is not None:
            item.config.stash[STATE].records.pop(record.key, None)
            del item.stash[RECORD]


def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    workerinput = getattr(session.config, "workerinput", None)
    state.started = (workerinput or {}).get("hilsec_started") or _now()
    if workerinput is None and not session.config.option.collectonly:
        _hold_devices(session.config, state)


EXIT_DEVICE_BUSY = 75  # sysexits EX_TEMPFAIL: the device is in use, try again later
EXIT_LAB_UNAVAILABLE = 69  # sysexits EX_UNAVAILABLE: a lab service (a labgrid coordinator) is not there


def _workers(config: pytest.Config) -> int:
    """How many xdist workers this session starts (0: no xdist)."""
    if not config.pluginmanager.hasplugin("dsession"):
        return 0
    count = getattr(config.option, "numprocesses", None)
    return int(count) if count else len(getattr(config.option, "tx", None) or [])


def _hold_devices(config: pytest.Config, state: HilsecState) -> None:
    """Take the session's device(s) exclusively, before any worker or test starts."""
    from harness.lab.locks import DeviceBusy
    from harness.plugin.pool import acquire, candidates, lock_key

    if state.profile is None and not state.has_pool:
        return
    # A cleanup, not pytest_unconfigure: it runs even when another plugin's unconfigure raises.
    config.add_cleanup(lambda: _release_devices(state))
    workers = _workers(config)
    try:
        devices = candidates(state.profile_path, state.profile, state.lab)
        if not state.has_pool and (workers <= 1 or lock_key(state.profile, state.lab) is None):
            count = 1  # one device; with -n N each worker boots its own emulated copy
        elif not state.has_pool:
            raise ConfigError(
                str(state.lab_path or state.profile_path), "pool",
                f"-n {workers} on one bench device ({state.profile.name}): workers would share its console",
                "the bench devices listed in the lab config's pool",
            )  # fmt: skip
        else:
            count = max(1, workers)
        state.assignments = acquire(devices, count, float(config.getoption("hilsec_wait") or 0.0), state.lab)
    except ConfigError as err:
        pytest.exit(str(err), returncode=2)
    except DeviceBusy as err:
        pytest.exit(f"hilsec: {err}", returncode=EXIT_DEVICE_BUSY)
    except HarnessSetupError as err:
        pytest.exit(f"hilsec: {err}", returncode=EXIT_LAB_UNAVAILABLE)
    for assignment in state.assignments:  # a place reserved by tags: the drivers use the one held
        held_settings = getattr(assignment.lock, "held_settings", None)
        if held_settings is not None and held_settings() is not assignment.lab.labgrid:
            assignment.lab = assignment.lab.model_copy(update={"labgrid": held_settings()})
            if not state.has_pool:
                state.lab = assignment.lab
    if state.has_pool and workers == 0:
        chosen = state.assignments[0]
        state.profile, state.lab, state.profile_path = chosen.profile, chosen.lab, chosen.profile_path
        state.device_name = chosen.name


def _release_devices(state: HilsecState) -> None:
    """Give back what the session holds; a signal arriving meanwhile waits until it is given back
    (a labgrid place released halfway stays acquired until the next run of this host)."""
    with signals_held("the devices are released"):
        for assignment in state.assignments:
            assignment.release()


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash.get(_RESTORE_SIGTERM, lambda: None)()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With a device pool every worker is a device, and every device runs every selected test."""
    state = config.stash.get(STATE, None)
    if state is None or not state.has_pool:
        return None
    from xdist.scheduler import EachScheduling

    return EachScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker writes evidence into the same report directory."""
    state = node.config.stash[STATE]
    if state.active or state.profile_path is not None:
        node.workerinput["hilsec_report_dir"] = str(_report_dir(state))
    state.started = state.started or _now()
    node.workerinput["hilsec_started"] = state.started
    if state.has_pool and state.assignments:
        chosen = state.assignments[state.next_assignment % len(state.assignments)]
        state.next_assignment += 1
        node.workerinput["hilsec_device"] = chosen.name
        place = getattr(chosen.lock, "place", None)
        if place:
            node.workerinput["hilsec_labgrid_place"] = place


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker finished; take its records (also those it never ran)."""
    output = getattr(node, "workeroutput", {}).get("hilsec")
    if not output:
        return
    state = node.config.stash[STATE]
    for data in output["records"]:
        record = TestRecord.from_dict(data)
        known = state.records.get(record.key)
        if known is None or known.verdict is None:
            state.records[record.key] = record
    if output.get("device"):
        state.worker_devices.append(output["device"])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """xdist controller: each worker report carries its test's record (see records.py)."""
    data = getattr(report, "hilsec_record", None)
    node = getattr(report, "node", None)  # set by xdist on the controller only
    if data is None or node is None:
        return
    state = node.config.stash.get(STATE, None)
    if state is not None:
        record = TestRecord.from_dict(data)
        state.records[record.key] = record


@pytest.hookimpl(hookwrapper=True)
def pytest_report_to_serializable(config: pytest.Config, report: Any) -> Iterator[None]:
    outcome = yield
    data = outcome.get_result()
    if isinstance(data, dict) and getattr(report, "hilsec_record", None) is not None:
        data["hilsec_record"] = report.hilsec_record


@pytest.hookimpl(hookwrapper=True)
def pytest_report_from_serializable(config: pytest.Config, data: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report is not None and isinstance(data, dict) and "hilsec_record" in data:
        report.hilsec_record = data["hilsec_record"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _report_dir(state: HilsecState) -> Path:
    if state.report_dir is None:
        name = state.profile.name if state.profile is not None else "run"
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        state.report_dir = Path(tempfile.gettempdir()) / "hilsec-reports" / f"{name}-{stamp}"
    state.report_dir.mkdir(parents=True, exist_ok=True)
    return state.report_dir


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hilsec_state(pytestconfig: pytest.Config) -> HilsecState:
    return pytestconfig.stash[STATE]


@pytest.fixture(scope="session")
def profile(hilsec_state: HilsecState) -> Any:
    """The validated device profile (the lab's IXIT for the device under test)."""
    if hilsec_state.profile is None:
        pytest.exit(
            "no device profile: pass --device-profile FILE (or set hilsec_device_profile)", returncode=2
        )
    return hilsec_state.profile


@pytest.fixture(scope="session")
def lab(hilsec_state: HilsecState, profile: Any) -> Any:
    """The validated lab configuration, or the built-in defaults when none is given."""
    if hilsec_state.lab is None:
        from harness.config import LabConfig

        hilsec_state.lab = LabConfig()
    return hilsec_state.lab


@pytest.fixture(scope="session")
def hilsec_device(
    hilsec_state: HilsecState, profile: Any, lab: Any, pytestconfig: pytest.Config
) -> Iterator[Any]:
    """The device under test as the profile and lab config make it: drivers chosen, not started."""
    from harness.device import Device

    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def progress(line: str) -> None:
        if reporter is not None:
            reporter.write_line(one_line(f"[hilsec] {line}"))

    # The lab's working files (QEMU's raw serial log, the lab peers' keys, registrar configs) stay
    # out of the report directory: only evidence, redacted, goes to the people reading the report.
    workdir = Path(tempfile.mkdtemp(prefix=f"hilsec-lab-{profile.name}-"))
    try:
        dev = Device(profile, lab, workdir=workdir, progress=progress)
    except ConfigError as err:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.exit(str(err), returncode=2)
    hilsec_state.device = dev
    yield dev
    dev.stop()
    if pytestconfig.getoption("hilsec_keep_lab"):
        progress(f"lab working files kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def device(hilsec_device: Any) -> Any:
    """The device under test, started as the profile says (lab services up, at its login prompt)."""
    try:
        hilsec_device.start()
    except (DeviceError, HarnessSetupError, MissingCapability) as err:
        raise DeviceError(f"device could not be started: {err}") from err
    return hilsec_device


@pytest.fixture(scope="session")
def unbooted_device(hilsec_device: Any) -> Any:
    """The device with its drivers and lab services started but not brought to a login prompt:
    for tests that drive it from power-on themselves (a board may have nothing behind its bootloader)."""
    try:
        hilsec_device.start(to_login=False)
    except (DeviceError, HarnessSetupError, MissingCapability) as err:
        raise DeviceError(f"device could not be started: {err}") from err
    return hilsec_device


@pytest.fixture(scope="session")
def firmware(hilsec_device: Any) -> Any:
    """The device's firmware files (image, initrd), without booting the device."""
    from harness.capabilities import FirmwareFiles

    return hilsec_device.require(FirmwareFiles, "read the device's firmware")


@pytest.fixture
def evidence(request: pytest.FixtureRequest, hilsec_state: HilsecState) -> Evidence:
    """The current test's evidence folder (transcripts, pcaps, logs, crafted packages)."""
    name = hilsec_state.device_name
    test_id = f"{name}/{request.node.nodeid}" if name else request.node.nodeid
    return Evidence(_report_dir(hilsec_state), test_id, secrets=hilsec_state.secrets())


@pytest.fixture(autouse=True)
def _hilsec_transcripts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Route the device's console transcripts into the running test's evidence folder."""
    booted = "device" in request.fixturenames
    if RECORD not in request.node.stash or not (booted or "unbooted_device" in request.fixturenames):
        yield
        return
    dev = request.getfixturevalue("device" if booted else "unbooted_device")
    ev = request.getfixturevalue("evidence")
    dev.begin_test(ev, bring_up=booted)
    try:
        yield
    finally:
        dev.end_test(lost=request.node.stash.get(_DEVICE_LOST, False))


# --- verdicts -------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Bound every security test in time, so a hung device cannot stall the run."""
    state = item.config.stash[STATE]
    if RECORD not in item.stash or not hasattr(signal, "SIGALRM") or _pytest_timeout_applies(item):
        yield
        return
    limit = state.test_timeout_s

    def on_alarm(signum: int, frame: Any) -> None:
        raise Inconclusive(f"test exceeded the {limit:.0f} s limit (--hilsec-test-timeout)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _pytest_timeout_applies(item: pytest.Item) -> bool:
    """pytest-timeout bounds this test (its marker, --timeout, the ini key or PYTEST_TIMEOUT)."""
    if not item.config.pluginmanager.hasplugin("timeout"):
        return False
    if item.get_closest_marker("timeout") is not None:
        return True
    if item.config.getoption("timeout", None):
        return True
    try:
        if item.config.getini("timeout"):
            return True
    except ValueError:
        pass
    return bool(os.environ.get("PYTEST_TIMEOUT"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    record = item.stash.get(RECORD, None)
    if record is None:
        return
    report: pytest.TestReport = outcome.get_result()
    if call.excinfo is not None and isinstance(call.excinfo.value, DeviceError):
        item.stash[_DEVICE_LOST] = True
    verdict, reason = verdict_of(call.excinfo, call.when)
    record.update(verdict, reason, call.when, report.duration)
    for name, value in getattr(item, "user_properties", ()):
        if name == "radio":
            record.radio = str(value)[:200]
    if call.when == "teardown":
        state = item.config.stash[STATE]
        if state.report_dir is not None:
            record.evidence = Evidence(state.report_dir, _evidence_id(record)).files()
    report.user_properties.append(("hilsec_verdict", str(record.verdict or "")))
    report.hilsec_record = record.to_dict()


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """Show INCONCLUSIVE and NOT_APPLICABLE in the terminal under their own names."""
    verdicts = dict(getattr(report, "user_properties", ())).get("hilsec_verdict")
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if verdicts == "INCONCLUSIVE":
            return "inconclusive", "I", "INCONCLUSIVE"
        if verdicts == "NOT_APPLICABLE":
            return "not applicable", "n", "NOT_APPLICABLE"
    return None


# --- the report -----------------------------------------------------------------------------


def _run_result(state: HilsecState) -> Any:
    """One RunResult per device the session's records ran on (one without a pool)."""
    from harness.results.model import RunResult, TestResult, requirement_results

    by_device: dict[str, list[Any]] = {}
    for record in state.records.values():
        if record.verdict is None:
            record.verdict, record.reason = Verdict.INCONCLUSIVE, "not run (the run was interrupted)"
        if state.report_dir is not None:
            record.evidence = Evidence(state.report_dir, _evidence_id(record)).files()
        by_device.setdefault(record.device, []).append(
            TestResult(
                nodeid=record.nodeid,
                requirements=record.requirements,
                crossrefs=record.crossrefs,
                verdict=record.verdict,
                reason=redact_text(record.reason, state.secrets()),
                evidence=record.evidence,
                duration_s=round(record.duration_s, 3),
                kind=record.kind,
                phase=record.phase,
                radio=record.radio,
            )
        )
    catalog = _catalog(state)
    finished = _now()
    return [
        RunResult(
            device=_device_identity(state, name),
            started=state.started or finished,
            finished=finished,
            harness_version=__version__,
            tests=tests,
            requirements=requirement_results(catalog, tests),
        )
        for name, tests in sorted(by_device.items())
    ]


def _evidence_id(record: TestRecord) -> str:
    """The evidence folder's name: per device and test with a pool, per test without."""
    return f"{record.device}/{record.nodeid}" if record.device else record.nodeid


def _device_identity(state: HilsecState, name: str = "") -> dict[str, Any]:
    known = {str(d.get("pool_device") or ""): d for d in state.worker_devices}
    if name and name in known:
        return dict(known[name])
    profile, profile_path, lab = state.profile, state.profile_path, state.lab
    for held in state.assignments:  # an xdist controller: the pool device a worker drove
        if held.name == name:
            profile, profile_path, lab = held.profile, held.profile_path, held.lab
    if profile is None:
        return {"name": name or "unknown", "profile": None}
    identity: dict[str, Any] = {
        "name": name or profile.name,
        "profile": str(profile_path),
        "vendor": profile.vendor,
        "model": profile.model,
        "firmware_version": profile.firmware_version,
    }
    if name:
        identity["pool_device"] = name
    if lab is not None and lab.labgrid is not None:
        identity["labgrid"] = _labgrid_identity(lab.labgrid)
    if state.device is not None:
        identity.update({k: v for k, v in state.device.identity().items() if k != "name"})
    elif state.worker_devices and not name:
        identity.update({k: v for k, v in state.worker_devices[0].items() if k not in identity})
    return identity


def _labgrid_identity(settings: Any) -> dict[str, Any]:
    """Which labgrid place the device was: reserved by tags, the place says which board it was."""
    said: dict[str, Any] = {"coordinator": settings.coordinator, "place": settings.place}
    if settings.tags:
        said["tags"] = dict(settings.tags)
    return said


@pytest.hookimpl(tryfirst=True)  # the report is written even when a suite's own sessionfinish raises
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None or session.config.option.collectonly:
        return  # collecting is not a run: no report, and an existing report directory is left alone
    if hasattr(session.config, "workerinput"):
        session.config.workeroutput["hilsec"] = {
            "records": [record.to_dict() for record in state.records.values()],
            "device": _device_identity(state, state.device_name) if state.device is not None else None,
        }
        return
    if not state.active or not state.records:
        return
    from harness.report import write_report

    report_dir = _report_dir(state)
    runs = _run_result(state)
    write_report(runs, report_dir, catalog=_catalog(state), signing_key=_signing_key(state))
    session.config.stash[_RUN] = runs


_RUN = pytest.StashKey[Any]()


def _signing_key(state: HilsecState) -> Any:
    """The lab config's `signing.key` (validated when the config was loaded), or None."""
    signing = getattr(state.lab, "signing", None) if state.lab is not None else None
    if signing is None:
        return None
    from harness.report.signing import load_signing_key

    return load_signing_key(signing.key)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(_RUN, None)
    state = config.stash.get(STATE, None)
    if run is None or state is None:
        return
    from harness.report.terminal import format_summary
    from harness.util.text import one_line

    for device_run in run:
        title = one_line(f" on {device_run.device.get('name')}") if len(run) > 1 else ""
        terminalreporter.section(f"hilsec requirement verdicts{title}")
        for line in format_summary(device_run).splitlines():
            terminalreporter.write_line(line)
    terminalreporter.write_line(f"report: {state.report_dir}")
