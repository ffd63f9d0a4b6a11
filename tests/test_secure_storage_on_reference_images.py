"""testsuites/test_secure_storage.py against reference images: each storage knob fails only its test.

Profiles are copies of the hardened one with `console.qemu.weaknesses` set, run one after the
other (one QEMU each, ~1 min in all).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_runs import knob_profile, run_suites

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
    name = "-".join(weaknesses) or "none"
    profile = knob_profile(
        tmp,
        weaknesses,
        name="qemu-reference-hardened",
        login_password="admin" if "default-password" in weaknesses else None,
    )
    outcome = run_suites(tmp, {name: profile}, [suite], timeout_s=RUN_TIMEOUT_S)[name]
    return {test_name: test["verdict"] for test_name, test in outcome.tests.items()}


@pytest.mark.parametrize("weaknesses", list(EXPECTED_FAILURES), ids=lambda w: "-".join(w) or "hardened")
def test_each_storage_knob_fails_exactly_its_test(tmp_path, weaknesses):
    verdicts = run_suite(tmp_path, weaknesses)
    failed = {name for name, verdict in verdicts.items() if verdict == "FAIL"}
    assert failed == EXPECTED_FAILURES[weaknesses], verdicts
    assert all(v in ("PASS", "FAIL") for v in verdicts.values()), verdicts
