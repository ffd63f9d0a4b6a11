"""testsuites/test_update_channel.py against reference images: each knob fails only its own test.

Three runs in parallel (one QEMU each): the hardened image passes both tests; with
`patch-level-hidden` only the patch-level test fails; with `no-update-fallback` only the
fallback test fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITE = "testsuites/test_update_channel.py"
RUN_TIMEOUT_S = 240
PATCH_LEVEL = "test_patch_level_and_date_readable_on_device"
FALLBACK = "test_falls_back_to_manufacturer_update_server"
KNOBS = {"hardened": [], "hidden": ["patch-level-hidden"], "no-fallback": ["no-update-fallback"]}

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
    out = tmp_path_factory.mktemp("update-channel")
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


def test_hardened_passes_both(runs) -> None:
    assert _verdicts(runs["hardened"]) == {PATCH_LEVEL: "PASS", FALLBACK: "PASS"}, runs["hardened"]


def test_patch_level_hidden_fails_only_the_patch_level_test(runs) -> None:
    assert _verdicts(runs["hidden"]) == {PATCH_LEVEL: "FAIL", FALLBACK: "PASS"}, runs["hidden"]
    assert "shows no security patch level" in runs["hidden"][PATCH_LEVEL]["reason"]


def test_no_update_fallback_fails_only_the_fallback_test(runs) -> None:
    assert _verdicts(runs["no-fallback"]) == {PATCH_LEVEL: "PASS", FALLBACK: "FAIL"}, runs["no-fallback"]
    reason = runs["no-fallback"][FALLBACK]["reason"]
    assert "did not reach the manufacturer's server" in reason and "server=none" in reason
