"""A device that dies mid-run: that test is INCONCLUSIVE with the reason, the run goes on, and the
report is still written (the next test finds the device power-cycled back to life). The lab
network namespace deleted under the run is not a lost device: the harness gives it its name
back, and a device restarted after it comes up on the same lab network."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from reference_runs import RunOutcome, run_suites

ROOT = Path(__file__).resolve().parent.parent
HARDENED = ROOT / "device_profiles/qemu-reference-hardened.yaml"
RUN_TIMEOUT_S = 600
pytestmark = pytest.mark.integration

SUITE = """
import os, signal
import pytest

@pytest.mark.requirement("FS38-05")
def test_1_device_crashes_mid_test(device):
    assert device.run("true").status == 0
    machine = device.context.shared["emulated-board"].machine  # fault injection reaches into QEMU
    os.killpg(machine._process.pid, signal.SIGKILL)  # QEMU dies: a crash or power loss
    device.run("cat /etc/hilsec-release")

@pytest.mark.requirement("FS38-06")
def test_2_run_goes_on_after_recovery(device):
    assert "VARIANT=hardened" in device.run("cat /etc/hilsec-release").output

@pytest.mark.requirement("FS38-07")
def test_3_a_hung_command_times_out(device):
    device.run("sleep 600", timeout=2)
"""


def _run(tmp_path: Path, suite: str) -> RunOutcome:
    """The fault suite, alone, against the hardened reference device (run_suites asserts it
    wrote its results.json)."""
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_fault.py").write_text(textwrap.dedent(suite))
    return run_suites(tmp_path, {"hardened": HARDENED}, [suites], timeout_s=RUN_TIMEOUT_S)["hardened"]


def test_lost_device_is_inconclusive_and_the_run_goes_on(tmp_path: Path) -> None:
    outcome = _run(tmp_path, SUITE)
    tests, report = outcome.tests, outcome.report_dir
    crashed = tests["test_1_device_crashes_mid_test"]
    assert crashed["verdict"] == "INCONCLUSIVE", crashed
    assert "device" in crashed["reason"]
    assert tests["test_2_run_goes_on_after_recovery"]["verdict"] == "PASS", tests
    hung = tests["test_3_a_hung_command_times_out"]
    assert hung["verdict"] == "INCONCLUSIVE" and "sleep 600" in hung["reason"], hung
    assert (report / "report.html").is_file() and (report / "junit.xml").is_file()


NAMESPACE_SUITE = """
import os, signal, socket, subprocess
import pytest
from harness.capabilities import LabAddressing

@pytest.mark.requirement("FS38-05")
def test_1_lab_namespace_deleted_under_the_run(device):
    network = device.context.shared["emulated-network"]  # fault injection reaches into the lab
    subprocess.run(["ip", "netns", "delete", network.namespace], check=True, timeout=30)
    assert device.run("true").status == 0

@pytest.mark.requirement("FS38-06")
def test_2_device_crashes_after_it(device):
    machine = device.context.shared["emulated-board"].machine
    os.killpg(machine._process.pid, signal.SIGKILL)
    device.run("true")

@pytest.mark.requirement("FS38-07")
def test_3_restarted_device_is_on_the_same_lab_network(device):
    assert "VARIANT=hardened" in device.run("cat /etc/hilsec-release").output
    lab = device.require(LabAddressing, "reach the device from the lab side")
    with lab.lab_side():
        with socket.create_connection((lab.device_address, 22), timeout=20):
            pass
"""


def test_a_lab_namespace_deleted_under_the_run_does_not_lose_the_lab(tmp_path: Path) -> None:
    outcome = _run(tmp_path, NAMESPACE_SUITE)
    tests, report = outcome.tests, outcome.report_dir
    assert tests["test_1_lab_namespace_deleted_under_the_run"]["verdict"] == "PASS", tests
    assert tests["test_2_device_crashes_after_it"]["verdict"] == "INCONCLUSIVE", tests
    restarted = tests["test_3_restarted_device_is_on_the_same_lab_network"]
    assert restarted["verdict"] == "PASS", (restarted, outcome.log_tail())
    assert (report / "report.html").is_file() and (report / "junit.xml").is_file()
