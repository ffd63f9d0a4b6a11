"""testsuites/test_signed_updates.py against reference images: each update knob fails its own tests.

Three runs in parallel (one QEMU each): the hardened image passes every signed-update test; with
`unsigned-updates-accepted` exactly the four invalid-package tests fail; with `rollback-accepted`
exactly the rollback test fails. The valid package installs on all three (SSU-TES-0030).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITE = "testsuites/test_signed_updates.py"
RUN_TIMEOUT_S = 400
KNOBS = {"hardened": [], "unsigned": ["unsigned-updates-accepted"], "rollback": ["rollback-accepted"]}
INVALID = [f"test_invalid_update_rejected[{kind}]" for kind in ("unsigned", "untrusted-signer", "tampered-payload", "truncated")]  # fmt: skip
FUNCTIONAL = ["test_valid_update_installs", *INVALID, "test_rollback_rejected"]

pytestmark = pytest.mark.integration


def _profile(out: Path, knobs: list[str]) -> Path:
    """The hardened profile with exactly these weakness knobs (its manifest path made absolute)."""
    source = ROOT / "device_profiles/qemu-reference-hardened.yaml"
    data = yaml.safe_load(source.read_text())
    data["console"]["qemu"]["weaknesses"] = knobs
    manifest = data["update_policy"]["update_manifest"]
    data["update_policy"]["update_manifest"] = str((source.parent / manifest).resolve())
    data["name"] = "qemu-reference-" + ("+".join(knobs) or "hardened")
    path = out / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    out = tmp_path_factory.mktemp("signed-updates")
    procs = {}
    for name, knobs in KNOBS.items():
        report = out / name
        cmd = [
            sys.executable, "-m", "pytest", str(ROOT / SUITE), "-p", "no:cacheprovider",
            "--device-profile", str(_profile(out, knobs)),
            "--lab-config", str(ROOT / "lab_configs/local-qemu.yaml"), "--report-dir", str(report),
        ]  # fmt: skip
        log = (out / f"{name}.log").open("w")
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), report, log)
    results = {}
    for name, (proc, report, log) in procs.items():
        try:
            proc.wait(timeout=RUN_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
        results_file = report / "results.json"
        assert results_file.is_file(), (out / f"{name}.log").read_text()[-3000:]
        tests = json.loads(results_file.read_text())["tests"]
        results[name] = {t["nodeid"].split("::")[-1]: t for t in tests}
    return results


def _verdicts(run: dict[str, dict]) -> dict[str, str]:
    return {name: test["verdict"] for name, test in run.items()}


def test_hardened_passes_every_signed_update_test(runs) -> None:
    verdicts = _verdicts(runs["hardened"])
    assert verdicts == dict.fromkeys(
        [*FUNCTIONAL, "test_update_manifest_lists_cves_and_no_features"], "PASS"
    ), runs["hardened"]


def test_unsigned_updates_knob_fails_exactly_the_invalid_package_tests(runs) -> None:
    verdicts = _verdicts(runs["unsigned"])
    expected = {name: "FAIL" if name in INVALID else "PASS" for name in FUNCTIONAL}
    assert {name: verdicts[name] for name in FUNCTIONAL} == expected, runs["unsigned"]
    reason = runs["unsigned"]["test_invalid_update_rejected[unsigned]"]["reason"]
    assert "was installed" in reason and "no syslog line records the rejection" in reason


def test_rollback_knob_fails_exactly_the_rollback_test(runs) -> None:
    verdicts = _verdicts(runs["rollback"])
    expected = {name: "FAIL" if name == "test_rollback_rejected" else "PASS" for name in FUNCTIONAL}
    assert {name: verdicts[name] for name in FUNCTIONAL} == expected, runs["rollback"]
    assert "rollback" in runs["rollback"]["test_rollback_rejected"]["reason"]
