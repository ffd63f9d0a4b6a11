"""pytest's own ways of running give true reports: -n, -k, --collect-only, --junitxml, pytest.fail,
pytest-timeout and -p no:hilsec, each run through pytester as a pytest user would run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.plugin.checkout import register_from_checkout

SUITE = """
import time
import pytest
from harness.plugin.conclusions import inconclusive, not_applicable

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

@pytest.mark.requirement("FS38-01")
def test_pass():
    pass

@pytest.mark.requirement("FS38-01")
def test_assert_fails():
    assert 1 == 2, "accepted admin:admin"

@pytest.mark.requirement("FS38-04")
def test_pytest_fail_is_fail():
    pytest.fail("plaintext flow to 10.0.2.2:5683")

@pytest.mark.requirement("FS38-05")
def test_inconclusive():
    inconclusive("no capture")

@pytest.mark.requirement("FS38-06")
def test_setup_error(broken):
    pass

@pytest.mark.requirement("FS38-02")
def test_not_applicable():
    not_applicable("no secure boot")
"""


def _results(report: Path) -> dict:
    return json.loads((report / "results.json").read_text())


def _verdicts(data: dict) -> dict[str, str]:
    return {t["nodeid"].split("::")[-1]: t["verdict"] for t in data["tests"]}


def _requirements(data: dict) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in data["requirements"]}


def test_pytest_fail_in_a_test_is_fail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "r"
    pytester.runpytest("--report-dir", str(report))
    verdicts = _verdicts(_results(report))
    assert verdicts["test_pytest_fail_is_fail"] == "FAIL"
    assert verdicts["test_setup_error"] == "INCONCLUSIVE"  # a broken fixture is not the device's fault


def test_deselected_tests_are_not_in_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "r"
    pytester.runpytest("--report-dir", str(report), "-k", "test_pass or not_applicable")
    data = _results(report)
    assert set(_verdicts(data)) == {"test_pass", "test_not_applicable"}
    requirements = _requirements(data)
    assert requirements["FS38-01"] == "PASS"  # test_assert_fails was deselected, not failed
    assert requirements["FS38-04"] == "NOT_TESTED"  # its only test was deselected
    assert requirements["FS38-05"] == "NOT_TESTED"


def test_collect_only_writes_no_report_and_keeps_an_existing_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "r"
    pytester.runpytest("--report-dir", str(report))
    before = (report / "results.json").read_bytes()
    result = pytester.runpytest("--report-dir", str(report), "--collect-only")
    result.stdout.fnmatch_lines(["*6 tests collected*"])
    assert (report / "results.json").read_bytes() == before


def test_xdist_workers_merge_into_one_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "r"
    result = pytester.runpytest_subprocess("--report-dir", str(report), "-n", "2", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = _results(report)
    assert _verdicts(data) == {
        "test_pass": "PASS",
        "test_assert_fails": "FAIL",
        "test_pytest_fail_is_fail": "FAIL",
        "test_inconclusive": "INCONCLUSIVE",
        "test_setup_error": "INCONCLUSIVE",
        "test_not_applicable": "NOT_APPLICABLE",
    }
    assert _requirements(data)["FS38-01"] == "FAIL"
    for name in ("report.html", "junit.xml", "requirements.csv", "evidence/SHA256SUMS"):
        assert (report / name).is_file(), name


def test_pytest_timeout_option_and_marker_are_honoured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_hang="""
        import time, pytest

        @pytest.mark.requirement("FS38-05")
        def test_hang_by_option():
            time.sleep(30)

        @pytest.mark.timeout(1)
        @pytest.mark.requirement("FS38-06")
        def test_hang_by_marker():
            time.sleep(30)
        """
    )
    report = pytester.path / "r"
    result = pytester.runpytest_subprocess(
        "--report-dir", str(report), "--timeout", "2", "--hilsec-test-timeout", "600", timeout=60
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    tests = {t["nodeid"].split("::")[-1]: t for t in _results(report)["tests"]}
    for name, seconds in (("test_hang_by_option", 2), ("test_hang_by_marker", 1)):
        assert tests[name]["verdict"] == "INCONCLUSIVE", tests[name]
        assert "timed out" in tests[name]["reason"] and "pytest-timeout" in tests[name]["reason"]
        assert tests[name]["duration_s"] < seconds + 5


def test_hilsec_timeout_still_applies_without_pytest_timeout(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_hang="""
        import time, pytest
        @pytest.mark.requirement("FS38-05")
        def test_hang():
            time.sleep(30)
        """
    )
    report = pytester.path / "r"
    pytester.runpytest_subprocess(
        "--report-dir", str(report), "--hilsec-test-timeout", "1", "-p", "no:timeout"
    )
    test = _results(report)["tests"][0]
    assert test["verdict"] == "INCONCLUSIVE" and "1 s limit" in test["reason"]


def test_junit_files_agree_with_pytests_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "r"
    theirs = pytester.path / "pytest-junit.xml"
    pytester.runpytest("--report-dir", str(report), f"--junitxml={theirs}")

    def classify(path: Path) -> dict[tuple[str, str], str]:
        cases = {}
        for case in ET.parse(path).getroot().iter("testcase"):
            kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            cases[(case.get("classname"), case.get("name"))] = kinds[0] if kinds else "passed"
        return cases

    ours = classify(report / "junit.xml")
    assert ours == classify(theirs)  # same names, same failure / error / skipped per testcase
    assert ours[("test_suite", "test_inconclusive")] == "failure"
    assert ours[("test_suite", "test_setup_error")] == "error"
    names = [name for _, name in ours]
    assert not [name for name in names if "FS38" in name]  # requirement IDs live in properties only


def test_p_no_hilsec_disables_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:hilsec", "--markers")
    assert "requirement(*ids)" not in result.stdout.str()
    result = pytester.runpytest_subprocess("--markers")
    assert "requirement(*ids)" in result.stdout.str()


class _FakePluginManager:
    def __init__(self, blocked: bool = False) -> None:
        self.blocked = blocked
        self.registered: dict[str, object] = {}

    def is_blocked(self, name: str) -> bool:
        return self.blocked and name == "hilsec"

    def has_plugin(self, name: str) -> bool:
        return name in self.registered

    def register(self, plugin: object, name: str) -> None:
        self.registered[name] = plugin


def test_a_checkout_registers_the_plugin_as_hilsec_unless_blocked() -> None:
    manager = _FakePluginManager()
    assert register_from_checkout(manager, is_installed=False)
    assert list(manager.registered) == ["hilsec"]
    blocked = _FakePluginManager(blocked=True)
    assert not register_from_checkout(blocked, is_installed=False) and not blocked.registered
    assert not register_from_checkout(_FakePluginManager(), is_installed=True)


INTERRUPTED_SUITE = (  # SUITE's tests, then one that is interrupted and one that never starts
    SUITE
    + """
@pytest.mark.requirement("FS38-04")
def test_waits():
    open("started", "w").close()
    time.sleep(60)

@pytest.mark.requirement("FS38-05")
def test_after():
    pass
"""
)
INTERRUPT_WAIT_S = 90.0  # xdist workers take their time to stop on a loaded host


@pytest.mark.parametrize(
    ("sig", "workers"),
    [(signal.SIGINT, 0), (signal.SIGTERM, 0), (signal.SIGTERM, 2)],
    ids=["ctrl-c", "sigterm", "sigterm-to-the-group-with-xdist"],
)
def test_an_interrupted_run_still_writes_the_report_of_what_finished(
    pytester: pytest.Pytester, sig: signal.Signals, workers: int
) -> None:
    """A cancelled CI job signals the whole process group; every worker then stops as on Ctrl-C."""
    pytester.makepyfile(test_suite=INTERRUPTED_SUITE)
    report = pytester.path / "r"
    xdist = ["-n", str(workers), "--dist", "loadfile"] if workers else []  # one worker runs them in order
    process = pytester.popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *xdist, "--report-dir", str(report), "test_suite.py"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + INTERRUPT_WAIT_S
        while not (pytester.path / "started").exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.1)
        assert (pytester.path / "started").exists(), "the waiting test never started"
        started = time.monotonic()
        time.sleep(0.5)  # the finished tests' reports reach the xdist controller
        os.killpg(process.pid, sig)
        output = process.communicate(timeout=INTERRUPT_WAIT_S)[0].decode(errors="replace")
        assert time.monotonic() - started < INTERRUPT_WAIT_S - 10, "the run did not stop promptly"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    data = _results(report)
    verdicts = _verdicts(data)
    assert verdicts == {
        "test_pass": "PASS",
        "test_assert_fails": "FAIL",
        "test_pytest_fail_is_fail": "FAIL",
        "test_inconclusive": "INCONCLUSIVE",
        "test_setup_error": "INCONCLUSIVE",
        "test_not_applicable": "NOT_APPLICABLE",
        "test_waits": "INCONCLUSIVE",
        "test_after": "INCONCLUSIVE",
    }, output
    reasons = {t["nodeid"].split("::")[-1]: t["reason"] for t in data["tests"]}
    assert "interrupted" in reasons["test_waits"] and "interrupted" in reasons["test_after"]
    assert _requirements(data)["FS38-01"] == "FAIL"
    for name in ("report.html", "junit.xml", "evidence/SHA256SUMS"):
        assert (report / name).is_file(), name
