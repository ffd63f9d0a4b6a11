"""The `hilsec` command line: exit statuses and one-line errors for user mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _hilsec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_command() -> None:
    out = _hilsec("--help").stdout
    for command in ("run", "image", "requirements", "validate", "devices", "report"):
        assert command in out


def test_validate_good_files(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (ROOT / "device_profiles").glob("*.yaml")) + [
        str(ROOT / "lab_configs/local-qemu.yaml")
    ]
    assert main(["validate", *files]) == 0
    assert capsys.readouterr().out.count(": ok") == len(files)


def test_validate_broken_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    broken = tmp_path / "p.yaml"
    broken.write_text("name: x\nconsole: {serial: {url: /dev/ttyUSB0, baudrate: fast}}\n")
    done = _hilsec("validate", str(broken))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "Traceback" not in done.stderr


def test_run_with_missing_profile_is_status_2() -> None:
    done = _hilsec("run", "--device-profile", "no/such/profile.yaml")
    assert done.returncode == 2
    assert "no/such/profile.yaml" in done.stderr and "Traceback" not in done.stderr


def test_image_build_rejects_unknown_weakness() -> None:
    done = _hilsec("image", "build", "--weakness", "open-telnet,flux-capacitor")
    assert done.returncode == 2 and "flux-capacitor" in done.stderr


def test_requirements_lists_every_id_and_schemes_work() -> None:
    from harness.requirements import load_catalog

    out = _hilsec("requirements").stdout
    for rid in load_catalog().ids():
        assert rid in out
    assert "EN303645-5.1-1" in _hilsec("requirements", "--scheme", "en303645").stdout


def test_requirements_view_tells_conceptual_tests_apart() -> None:
    """A unit named only by a `conceptual` test is automated conceptually, not functionally."""
    out = _hilsec("requirements", "--scheme", "ts103701").stdout
    review_unit = out.split("TS103701-5.5-2-1a  ", 1)[1].split("TS103701-", 1)[0]
    assert "automated: conceptually" in review_unit


def test_report_of_a_missing_directory_is_status_2(tmp_path: Path) -> None:
    done = _hilsec("report", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "nothing" in done.stderr and "Traceback" not in done.stderr


def test_devices_runs_without_hardware() -> None:
    done = _hilsec("devices")
    assert done.returncode == 0
    assert "Serial ports:" in done.stdout and "USB devices:" in done.stdout
