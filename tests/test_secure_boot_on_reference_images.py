"""testsuites/test_secure_boot.py both ways: OVMF enforcing (hardened profile) PASSes, OVMF without
enrolled keys (vulnerable profile) FAILs because the tampered kernel and the unsigned loader boot."""

from __future__ import annotations

import pytest
from reference_runs import reference_profile, run_suites

RUN_TIMEOUT_S = 600
pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("variant", "verdict"), [("hardened", "PASS"), ("vulnerable", "FAIL")])
def test_secure_boot_verdict(tmp_path, variant, verdict):
    outcome = run_suites(
        tmp_path,
        {variant: reference_profile(variant)},
        ["testsuites/test_secure_boot.py"],
        timeout_s=RUN_TIMEOUT_S,
    )[variant]
    tests = outcome.results["tests"]
    assert [t["verdict"] for t in tests] == [verdict], tests
    if verdict == "FAIL":
        assert "modified-kernel" in tests[0]["reason"] and "unsigned-bootloader" in tests[0]["reason"]
