"""The pytest plugin: options, the `requirement` marker, the `device` fixture, verdicts, reports.

Loaded through the `pytest11` entry point (and by the checkout's conftest.py). It stays inert for
test sessions that neither name a device profile nor collect requirement-marked tests, so the
harness's own tests run with it installed.
"""

from __future__ import annotations

import datetime as dt
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
from harness.plugin.conclusions import Inconclusive, NotApplicable
from harness.results.evidence import Evidence
from harness.results.redact import redact_text
from harness.results.verdicts import Verdict

MARKER = "requirement"
_DEFAULT_TEST_TIMEOUT_S = 900.0


@dataclass
class TestRecord:
    """What the plugin learns about one requirement-marked test while it runs."""

    nodeid: str
    requirements: list[str]
    crossrefs: list[str]
    kind: str = "functional"
    verdict: Verdict | None = None
    reason: str = ""
    radio: str = ""  # which radio produced a cellular verdict (a test's record_property("radio", ...))
    duration_s: float = 0.0
    evidence: list[str] = field(default_factory=list)


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

    @property
    def active(self) -> bool:
        return self.profile_path is not None or bool(self.records)

    def secrets(self) -> list[str]:
        return list(self.profile.secrets()) if self.profile is not None else []


STATE = pytest.StashKey[HilsecState]()
RECORD = pytest.StashKey[TestRecord]()
_DEVICE_LOST = pytest.StashKey[bool]()  # the test ended on a device error: look at the device again


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hilsec", "hilsec hardware-in-the-loop security tests")
    group.addoption("--device-profile", metavar="FILE", help="device profile (YAML) of the device under test")
    group.addoption("--lab-config", metavar="FILE", help="lab configuration (YAML): what is attached where")
    group.addoption("--report-dir", metavar="DIR", help="where results, reports and evidence are written")
    group.addoption(
        "--hilsec-test-timeout",
        metavar="SECONDS",
        type=float,
        help=f"end any single security test as INCONCLUSIVE after this long (default {_DEFAULT_TEST_TIMEOUT_S:.0f})",
    )
    group.addoption(
        "--hilsec-keep-lab",
        action="store_true",
        help="keep the lab's working files (QEMU logs, full captures, lab servers' files) after the run",
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*ids): the requirement IDs (FS.25, FS.38, or cross references such as "
        "EN303645-5.1-1) this test gives evidence for; an unknown ID is a collection error",
    )
    config.addinivalue_line(
        "markers", "conceptual: the test assesses declared evidence (TS 103 701 conceptual assessment)"
    )
    state = HilsecState(
        report_dir=_option_path(config, "report_dir", "hilsec_report_dir"),
        profile_path=_option_path(config, "device_profile", "hilsec_device_profile"),
        lab_path=_option_path(config, "lab_config", "hilsec_lab_config"),
    )
    state.test_timeout_s = config.getoption("hilsec_test_timeout") or _DEFAULT_TEST_TIMEOUT_S
    config.stash[STATE] = state
    if state.profile_path is None and state.lab_path is not None:
        pytest.exit("--lab-config needs --device-profile: name the device the bench tests", returncode=2)
    if state.profile_path is not None:
        from harness.config import load_lab_config, load_profile

        try:
            state.profile = load_profile(state.profile_path)
            state.lab = load_lab_config(state.lab_path) if state.lab_path else None
        except ConfigError as err:
            pytest.exit(str(err), returncode=2)


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
        record = TestRecord(item.nodeid, requirements, crossrefs, kind=kind)
        item.stash[RECORD] = record
        state.records[item.nodeid] = record
    if errors:
        raise pytest.UsageError("unknown requirement ID in a marker:\n  " + "\n  ".join(errors))


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[STATE].started = _now()


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
            reporter.write_line(f"[hilsec] {line}")

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
def firmware(hilsec_device: Any) -> Any:
    """The device's firmware files (image, initrd), without booting the device."""
    from harness.capabilities import FirmwareFiles

    return hilsec_device.require(FirmwareFiles, "read the device's firmware")


@pytest.fixture
def evidence(request: pytest.FixtureRequest, hilsec_state: HilsecState) -> Evidence:
    """The current test's evidence folder (transcripts, pcaps, logs, crafted packages)."""
    return Evidence(_report_dir(hilsec_state), request.node.nodeid, secrets=hilsec_state.secrets())


@pytest.fixture(autouse=True)
def _hilsec_transcripts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Route the device's console transcripts into the running test's evidence folder."""
    if RECORD not in request.node.stash or "device" not in request.fixturenames:
        yield
        return
    dev = request.getfixturevalue("device")
    ev = request.getfixturevalue("evidence")
    dev.begin_test(ev)
    try:
        yield
    finally:
        dev.end_test(lost=request.node.stash.get(_DEVICE_LOST, False))


# --- verdicts -------------------------------------------------------------------------------


def _first_line(text: str, limit: int = 500) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def _verdict_of(call: pytest.CallInfo[None], when: str) -> tuple[Verdict, str]:
    """Map one phase's outcome to a verdict and a one-line reason."""
    if call.excinfo is None:
        return Verdict.PASS, ""
    exc = call.excinfo.value
    if isinstance(exc, NotApplicable):
        return Verdict.NOT_APPLICABLE, str(exc.msg)
    if isinstance(exc, pytest.skip.Exception):
        return Verdict.INCONCLUSIVE, f"skipped, so not checked: {exc.msg}"
    if isinstance(exc, Inconclusive):
        return Verdict.INCONCLUSIVE, str(exc)
    if isinstance(exc, DeviceError):
        return Verdict.INCONCLUSIVE, f"device: {exc}"
    if isinstance(exc, MissingCapability):
        return Verdict.INCONCLUSIVE, str(exc)
    if isinstance(exc, AssertionError) and when == "call":
        message = str(exc) or "assertion failed"
        return Verdict.FAIL, _first_line(message.split("\nassert ")[0])
    if isinstance(exc, pytest.exit.Exception):
        return Verdict.INCONCLUSIVE, f"run stopped: {exc}"
    return Verdict.INCONCLUSIVE, f"harness error in {when}: {type(exc).__name__}: {_first_line(str(exc))}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Bound every security test in time, so a hung device cannot stall the run."""
    state = item.config.stash[STATE]
    if RECORD not in item.stash or not hasattr(signal, "SIGALRM"):
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    record = item.stash.get(RECORD, None)
    if record is None:
        return
    report: pytest.TestReport = outcome.get_result()
    if call.excinfo is not None and isinstance(call.excinfo.value, DeviceError):
        item.stash[_DEVICE_LOST] = True
    verdict, reason = _verdict_of(call, call.when)
    record.duration_s += report.duration
    for name, value in getattr(item, "user_properties", ()):
        if name == "radio":
            record.radio = str(value)[:200]
    if call.when == "setup":
        record.verdict, record.reason = (verdict, reason) if verdict is not Verdict.PASS else (None, "")
        if verdict is Verdict.INCONCLUSIVE:
            record.reason = f"setup: {reason}"
    elif call.when == "call":
        record.verdict, record.reason = verdict, reason
    elif call.when == "teardown" and call.excinfo is not None and record.verdict is Verdict.PASS:
        record.verdict, record.reason = Verdict.INCONCLUSIVE, f"teardown: {reason}"
    report.user_properties.append(("hilsec_verdict", str(record.verdict or "")))


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
    from harness.results.model import RunResult, TestResult, requirement_results

    tests = []
    for record in state.records.values():
        if record.verdict is None:
            record.verdict, record.reason = Verdict.INCONCLUSIVE, "not run (deselected or interrupted)"
        if state.report_dir is not None:
            record.evidence = Evidence(state.report_dir, record.nodeid).files()
        tests.append(
            TestResult(
                nodeid=record.nodeid,
                requirements=record.requirements,
                crossrefs=record.crossrefs,
                verdict=record.verdict,
                reason=redact_text(record.reason, state.secrets()),
                evidence=record.evidence,
                duration_s=round(record.duration_s, 3),
                kind=record.kind,
                radio=record.radio,
            )
        )
    catalog = _catalog(state)
    return RunResult(
        device=_device_identity(state),
        started=state.started or _now(),
        finished=_now(),
        harness_version=__version__,
        tests=tests,
        requirements=requirement_results(catalog, tests),
    )


def _device_identity(state: HilsecState) -> dict[str, Any]:
    profile = state.profile
    if profile is None:
        return {"name": "unknown", "profile": None}
    identity: dict[str, Any] = {
        "name": profile.name,
        "profile": str(state.profile_path),
        "vendor": profile.vendor,
        "model": profile.model,
        "firmware_version": profile.firmware_version,
    }
    if state.device is not None:
        identity.update(state.device.identity())
    return identity


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None or not state.active or not state.records:
        return
    if hasattr(session.config, "workerinput"):
        return
    from harness.report import write_report

    report_dir = _report_dir(state)
    run = _run_result(state)
    write_report(run, report_dir, catalog=_catalog(state))
    session.config.stash[_RUN] = run


_RUN = pytest.StashKey[Any]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(_RUN, None)
    state = config.stash.get(STATE, None)
    if run is None or state is None:
        return
    from harness.report.terminal import format_summary

    terminalreporter.section("hilsec requirement verdicts")
    for line in format_summary(run).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"report: {state.report_dir}")
