"""testsuites/test_signed_updates.py against reference images: each update knob fails its own tests.

Three runs in parallel (one QEMU each): the hardened image passes every signed-update test; with
`unsigned-updates-accepted` exactly the four invalid-package tests fail; with `rollback-accepted`
exactly the rollback test fails. The valid package installs on all three (SSU-TES-0030).
"""

from __future__ import annotations

import pytest
from reference_runs import knob_profile, run_suites

SUITE = "testsuites/test_signed_updates.py"
RUN_TIMEOUT_S = 400
KNOBS = {"hardened": [], "unsigned": ["unsigned-updates-accepted"], "rollback": ["rollback-accepted"]}
INVALID = [f"test_invalid_update_rejected[{kind}]" for kind in ("unsigned", "untrusted-signer", "tampered-payload", "truncated")]  # fmt: skip
FUNCTIONAL = ["test_valid_update_installs", *INVALID, "test_rollback_rejected"]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    out = tmp_path_factory.mktemp("signed-updates")
    profiles = {name: knob_profile(out, knobs) for name, knobs in KNOBS.items()}
    outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S)
    return {name: outcome.tests for name, outcome in outcomes.items()}


def _verdicts(run: dict[str, dict]) -> dict[str, str]:
    return {name: test["verdict"] for name, test in run.items()}


def test_hardened_passes_every_signed_update_test(runs) -> None:
    verdicts = _verdicts(runs["hardened"])
    assert verdicts == dict.fromkeys(
        [
            *FUNCTIONAL,
            "test_update_cryptography_is_current",
            "test_update_manifest_lists_cves_and_no_features",
        ],
        "PASS",
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
