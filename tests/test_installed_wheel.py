"""Installed the way a lab installs it: the wheel, in a fresh venv outside the checkout, carries the
suites, the catalog, the reference-image overlay and the report templates, and runs from there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "device_profiles/qemu-reference-hardened.yaml"
SOURCES = ("harness", "testsuites", "pyproject.toml", "setup.py", "README.md")
pytestmark = pytest.mark.integration

LAB_SUITE = """
import pytest

@pytest.mark.requirement("FS38-07")
@pytest.mark.conceptual
def test_lab_declares_a_log_server(profile):
    assert profile.name
"""


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH or virtualenv of the checkout leaks into the fresh install."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with hilsec installed from a wheel built out of a copy of the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in SOURCES:
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(item, source / name)
    dist = base / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], base
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(dist.glob("hilsec-*.whl"))
    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], base)
    assert made.returncode == 0, made.stderr[-2000:]
    done = _run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheel)], base)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_the_wheel_carries_suites_catalog_overlay_and_templates(installed: Path, tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import importlib.resources as r, harness, harness.testsuites
        assert "site-packages" in harness.__file__, harness.__file__
        files = r.files("harness")
        for rel in ("requirements/catalog.yaml", "requirements/ts103701.yaml", "emulation/overlay/init",
                    "report/templates/report.html.j2", "report/templates/pool.html.j2",
                    "report/results.schema.json", "data/default_credentials.txt", "testsuites/conftest.py",
                    "testsuites/test_console_lockdown.py"):
            assert files.joinpath(rel).is_file(), rel
        print("ok")
        """
    )
    done = _run([str(installed / "bin/python"), "-c", probe], tmp_path)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_installed_hilsec_covers_every_requirement(installed: Path, tmp_path: Path) -> None:
    done = _run([str(installed / "bin/hilsec"), "requirements"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "25 of 25 requirements covered by tests" in done.stdout
    units = _run([str(installed / "bin/hilsec"), "requirements", "--scheme", "ts103701"], tmp_path)
    assert units.returncode == 0, units.stderr[-2000:]
    assert "automated" in units.stdout, units.stdout[-2000:]  # the TS 103 701 units file is package data


def test_installed_hilsec_runs_a_conceptual_suite_beside_a_labs_own(installed: Path, tmp_path: Path) -> None:
    lab_suites = tmp_path / "lab_suites"
    lab_suites.mkdir()
    (lab_suites / "test_lab_extra.py").write_text(LAB_SUITE)
    report = tmp_path / "report"
    argv = [
        str(installed / "bin/hilsec"),
        "run",
        "--device-profile",
        str(PROFILE),
        "--report-dir",
        str(report),
    ]
    argv += ["--suites", str(lab_suites), "--", "-m", "conceptual", "-k", "update_policy or lab_extra"]
    done = _run(argv, tmp_path)
    assert (report / "results.json").is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    tests = {t["nodeid"]: t["verdict"] for t in json.loads((report / "results.json").read_text())["tests"]}
    policy = [n for n in tests if n.startswith("testsuites/test_update_policy.py::")]
    assert len(policy) >= 8, tests  # node IDs as a checkout names them
    extra = [v for n, v in tests.items() if n.endswith("test_lab_extra.py::test_lab_declares_a_log_server")]
    assert extra == ["PASS"], tests
    assert all(v in ("PASS", "FAIL", "NOT_APPLICABLE", "INCONCLUSIVE") for v in tests.values())
    assert (report / "report.html").is_file() and (report / "junit.xml").is_file()


def test_plain_pytest_finds_the_installed_suites_with_pyargs(installed: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    argv = [str(installed / "bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    argv += ["--pyargs", "harness.testsuites.test_update_policy", "--device-profile", str(PROFILE)]
    argv += ["--report-dir", str(report)]
    done = _run(argv, tmp_path)
    assert (report / "results.json").is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    tests = json.loads((report / "results.json").read_text())["tests"]
    assert len(tests) >= 8 and all(t["verdict"] != "INCONCLUSIVE" for t in tests), tests
