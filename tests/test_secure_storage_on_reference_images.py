"""testsuites/test_secure_storage.py against reference images: each storage knob fails only its test.

Profiles are copies of the hardened one with `console.qemu.weaknesses` set, run one after the
other (one QEMU each, ~1 min in all).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITE = "testsuites/test_secure_storage.py"
RUN_TIMEOUT_S = 600
pytestmark = pytest.mark.integration

EXPECTED_FAILURES = {
    (): set(),
    ("world-readable-secrets",): {"test_secrets_not_readable_by_unprivileged_users"},
    ("baked-in-private-key",): {"test_firmware_image_has_no_private_keys"},
    ("default-password",): {"test_firmware_image_has_no_default_passwords"},
}


def run_suite(tmp: Path, weaknesses: tuple[str, ...], suite: str = SUITE) -> dict[str, str]:
    """Verdict by test name for one run of `suite` against the hardened profile with `weaknesses`."""
    hardened = ROOT / "device_profiles/qemu-reference-hardened.yaml"
    profile = yaml.safe_load(hardened.read_text())
    profile["console"]["qemu"]["weaknesses"] = list(weaknesses)
    name = "-".join(weaknesses) or "none"
    if "default-password" in weaknesses:
        profile["login"]["password"] = "admin"
    path = hardened.parent / f".tmp-{name}-{tmp.name}.yaml"  # relative paths in the profile stay valid
    path.write_text(yaml.safe_dump(profile))
    report = tmp / name
    try:
        subprocess.run(
            [sys.executable, "-m", "pytest", suite, "-p", "no:cacheprovider", "--device-profile", str(path),
             "--lab-config", str(ROOT / "lab_configs/local-qemu.yaml"), "--report-dir", str(report)],
            cwd=ROOT, timeout=RUN_TIMEOUT_S, capture_output=True, check=False,
        )  # fmt: skip
    finally:
        path.unlink(missing_ok=True)
    data = json.loads((report / "results.json").read_text())
    return {t["nodeid"].split("::")[-1]: t["verdict"] for t in data["tests"]}


@pytest.mark.parametrize("weaknesses", list(EXPECTED_FAILURES), ids=lambda w: "-".join(w) or "hardened")
def test_each_storage_knob_fails_exactly_its_test(tmp_path, weaknesses):
    verdicts = run_suite(tmp_path, weaknesses)
    failed = {name for name, verdict in verdicts.items() if verdict == "FAIL"}
    assert failed == EXPECTED_FAILURES[weaknesses], verdicts
    assert all(v in ("PASS", "FAIL") for v in verdicts.values()), verdicts
