"""testsuites/test_secure_boot.py both ways: OVMF enforcing (hardened profile) PASSes, OVMF without
enrolled keys (vulnerable profile) FAILs because the tampered kernel and the unsigned loader boot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 600
pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("variant", "verdict"), [("hardened", "PASS"), ("vulnerable", "FAIL")])
def test_secure_boot_verdict(tmp_path, variant, verdict):
    report = tmp_path / variant
    subprocess.run(
        [sys.executable, "-m", "pytest", "testsuites/test_secure_boot.py", "-p", "no:cacheprovider",
         "--device-profile", str(ROOT / f"device_profiles/qemu-reference-{variant}.yaml"),
         "--lab-config", str(ROOT / "lab_configs/local-qemu.yaml"), "--report-dir", str(report)],
        cwd=ROOT, timeout=RUN_TIMEOUT_S, capture_output=True, check=False,
    )  # fmt: skip
    tests = json.loads((report / "results.json").read_text())["tests"]
    assert [t["verdict"] for t in tests] == [verdict], tests
    if verdict == "FAIL":
        assert "modified-kernel" in tests[0]["reason"] and "unsigned-bootloader" in tests[0]["reason"]
