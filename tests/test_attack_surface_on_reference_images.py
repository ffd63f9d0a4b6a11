"""FS38-05's port scan against reference images: hardened PASS, the debug-service knob FAIL naming
only its port, vulnerable FAIL naming telnet and the debug port, and user-mode networking
INCONCLUSIVE (the lab cannot see the whole device there).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "testsuites" / "test_attack_surface.py"
RUN_TIMEOUT_S = 300
TEST_NAME = "test_only_declared_services_listen"
pytestmark = pytest.mark.integration


def _lab_config(folder: Path, network: dict) -> Path:
    data = yaml.safe_load((ROOT / "lab_configs/local-qemu.yaml").read_text())
    data["network"] = network
    path = folder / f"lab-{network['mode']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _profile(folder: Path, name: str, weaknesses: list[str] | None) -> Path:
    """A copy of a reference profile in a copy of device_profiles/ (its relative paths still resolve)."""
    profiles = folder / "device_profiles"
    if not profiles.is_dir():
        shutil.copytree(ROOT / "device_profiles", profiles)
    source = "vulnerable" if weaknesses is None else "hardened"
    data = yaml.safe_load((profiles / f"qemu-reference-{source}.yaml").read_text())
    if weaknesses is not None:
        data["console"]["qemu"]["weaknesses"] = weaknesses
    data["name"] = name
    path = profiles / f"test-{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("attack-surface")
    # One namespace run on TEST-NET-1 to show the lab subnet is the lab config's choice.
    namespace = _lab_config(out, {"mode": "namespace", "subnet": "192.0.2.0/24"})
    user = _lab_config(out, {"mode": "user"})
    plan = {
        "hardened": (_profile(out, "hardened", []), namespace),
        "debug-service": (_profile(out, "debug-service", ["debug-service"]), namespace),
        "vulnerable": (_profile(out, "vulnerable", None), namespace),
        "user-mode": (_profile(out, "user-mode", ["debug-service"]), user),
    }
    procs = {}
    for name, (profile, lab) in plan.items():
        report = out / name
        cmd = [
            sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", "--device-profile", str(profile),
            "--lab-config", str(lab), "--report-dir", str(report), "-v",
        ]  # fmt: skip
        log = (out / f"{name}.log").open("w")
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), report, log)
    results = {}
    for name, (proc, report, log) in procs.items():
        proc.wait(timeout=RUN_TIMEOUT_S)
        log.close()
        text = (out / f"{name}.log").read_text()
        assert (report / "results.json").is_file(), text[-3000:]
        data = json.loads((report / "results.json").read_text())
        test = next(t for t in data["tests"] if t["nodeid"].endswith(TEST_NAME))
        results[name] = test | {"_log": text, "_report": report, "_device": data["device"]}
    return results


def test_hardened_passes_with_only_ssh_open(runs: dict[str, dict]) -> None:
    run = runs["hardened"]
    assert run["verdict"] == "PASS", run["_log"][-3000:]
    scan = next(run["_report"].rglob("port-scan.txt")).read_text()
    assert "target 192.0.2.15" in scan and "65535 ports" in scan
    assert "open: [22]" in scan and "only declared services listen: tcp/22 (ssh)" in scan


def test_debug_service_knob_fails_naming_only_its_port(runs: dict[str, dict]) -> None:
    run = runs["debug-service"]
    assert run["verdict"] == "FAIL", run["_log"][-3000:]
    assert "tcp/5555" in run["reason"] and "adb" in run["reason"]
    assert "tcp/23" not in run["reason"] and run["reason"].count(" open: ") == 1


def test_vulnerable_fails_naming_telnet_and_the_debug_port(runs: dict[str, dict]) -> None:
    run = runs["vulnerable"]
    assert run["verdict"] == "FAIL", run["_log"][-3000:]
    assert "tcp/23 open: telnet" in run["reason"] and "tcp/5555 open: adb" in run["reason"]


def test_user_mode_networking_is_inconclusive_with_the_reason(runs: dict[str, dict]) -> None:
    run = runs["user-mode"]
    assert run["verdict"] == "INCONCLUSIVE", run["_log"][-3000:]
    assert "user-mode networking" in run["reason"] and "cannot scan" in run["reason"]
