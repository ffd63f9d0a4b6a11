"""The plugin's bookkeeping: markers, verdict mapping, reports, bad input, timeouts."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

SUITE = """
import pytest
from harness.plugin.conclusions import inconclusive, not_applicable
from harness.errors import DeviceTimeout

@pytest.mark.requirement("FS38-01", "EN303645-5.1-1")
def test_pass():
    pass

@pytest.mark.requirement("FS38-01")
def test_fail():
    assert 1 == 2, "device accepted admin:admin"

@pytest.mark.requirement("FS38-04")
def test_inconclusive():
    inconclusive("no traffic seen")

@pytest.mark.requirement("FS38-05")
def test_device_lost():
    raise DeviceTimeout("no prompt within 5 s")

@pytest.mark.requirement("FS38-02")
def test_not_applicable():
    not_applicable("profile: no secure boot hardware")

@pytest.mark.requirement("FS38-06")
def test_plain_skip_is_not_a_pass():
    pytest.skip("tool missing")

@pytest.mark.requirement("FS38-07")
def test_harness_bug():
    raise KeyError("oops")
"""


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "report"
    result = pytester.runpytest("--report-dir", str(report), *args)
    return result, json.loads((report / "results.json").read_text())


def test_verdicts_follow_design(pytester: pytest.Pytester) -> None:
    _, data = _run(pytester)
    verdicts = {t["nodeid"].split("::")[-1]: t["verdict"] for t in data["tests"]}
    assert verdicts == {
        "test_pass": "PASS",
        "test_fail": "FAIL",
        "test_inconclusive": "INCONCLUSIVE",
        "test_device_lost": "INCONCLUSIVE",
        "test_not_applicable": "NOT_APPLICABLE",
        "test_plain_skip_is_not_a_pass": "INCONCLUSIVE",
        "test_harness_bug": "INCONCLUSIVE",
    }
    reasons = {t["nodeid"].split("::")[-1]: t["reason"] for t in data["tests"]}
    assert "admin:admin" in reasons["test_fail"]
    assert "no prompt within 5 s" in reasons["test_device_lost"]
    assert "profile: no secure boot hardware" == reasons["test_not_applicable"]


def test_requirements_roll_up_and_untested_ids_are_listed(pytester: pytest.Pytester) -> None:
    _, data = _run(pytester)
    req = {r["id"]: r["verdict"] for r in data["requirements"]}
    assert req["FS38-01"] == "FAIL"  # one pass, one fail
    assert req["FS38-04"] == "INCONCLUSIVE"
    assert req["FS38-02"] == "NOT_APPLICABLE"
    assert req["SSU-SEC-0030"] == "NOT_TESTED"
    assert len([r for r in req if r.startswith("SSU-")]) == 14


def test_report_directory_is_complete(pytester: pytest.Pytester) -> None:
    _run(pytester)
    report = pytester.path / "report"
    for name in ("results.json", "requirements.csv", "junit.xml", "report.html", "evidence/SHA256SUMS"):
        assert (report / name).is_file(), name


def test_unknown_requirement_id_fails_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest
        @pytest.mark.requirement("FS38-99")
        def test_x():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*FS38-99*"])


def test_hung_test_ends_inconclusive(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_hang="""
        import time, pytest
        @pytest.mark.requirement("FS38-05")
        def test_hang():
            time.sleep(30)
        """
    )
    report = pytester.path / "r"
    pytester.runpytest("--report-dir", str(report), "--hilsec-test-timeout", "1")
    data = json.loads((report / "results.json").read_text())
    assert data["tests"][0]["verdict"] == "INCONCLUSIVE"
    assert "1 s limit" in data["tests"][0]["reason"]


def test_broken_profile_is_one_line_and_status_2(pytester: pytest.Pytester, tmp_path: Path) -> None:
    profile = tmp_path / "broken.yaml"
    profile.write_text(textwrap.dedent(
        """
        name: x
        vendor: v
        model: m
        firmware_version: "1"
        console: {serial: {url: /dev/ttyUSB0}}
        login: {username: root, password: pw}
        colour: blue
        """
    ))  # fmt: skip
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest_subprocess("--device-profile", str(profile))
    assert result.ret == 2
    text = result.stdout.str() + result.stderr.str()
    assert "broken.yaml" in text and "colour" in text
    assert "Traceback" not in text


def test_plain_tests_without_markers_are_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "results.json").exists()


def test_whole_run_tests_run_after_every_other_test(pytester):
    pytester.makepyfile(
        test_a="""
import pytest

@pytest.mark.whole_run
def test_judges_the_whole_run():
    pass

def test_first():
    pass
""",
        test_b="def test_second():\n    pass\n",
    )
    result = pytester.runpytest("-v")
    lines = [line for line in result.outlines if "PASSED" in line]
    assert [line.split("::")[1].split()[0] for line in lines] == [
        "test_first",
        "test_second",
        "test_judges_the_whole_run",
    ]
