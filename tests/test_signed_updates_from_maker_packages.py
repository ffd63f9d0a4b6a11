"""FS38-03 on a device the harness did not build: the profile names the maker's packages (`updates:`),
the harness holds no signing key and derives every invalid package from the maker's valid one.

The reference image plays the device; `reference_packages()` plays its maker (what `hilsec image
packages` writes). Hardened: every signed-update test PASSes. `unsigned-updates-accepted`: every
derived package is installed, so exactly the four invalid-package tests FAIL (each one delivered
while the device runs an older version: a package installed by the previous test is undone by a
power cycle first, which this image allows). `rollback-accepted`: exactly the rollback test FAILs.
The update cryptography is judged on the maker's own package: ECDSA P-256 / SHA-256 for the
hardened maker PASSes, the vulnerable one's RSA-1024 / SHA-1 (`weak-update-signing`) FAILs.
No test ends INCONCLUSIVE.
"""

from __future__ import annotations

import functools

import pytest
from reference_runs import LAB_CONFIG, knob_profile, run_suites

from harness.config import load_lab_config
from harness.emulation import build_image
from harness.updates.maker import reference_packages

SUITE = "testsuites/test_signed_updates.py"
RUN_TIMEOUT_S = 500
VARIANTS = ("hardened", "vulnerable")
INVALID = [f"test_invalid_update_rejected[{kind}]" for kind in ("unsigned", "untrusted-signer", "tampered-payload", "truncated")]  # fmt: skip
FUNCTIONAL = [*INVALID, "test_valid_update_installs", "test_rollback_rejected"]

pytestmark = pytest.mark.integration


def _name_packages(data: dict, *, section: dict) -> None:
    data["updates"] = section


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    out = tmp_path_factory.mktemp("maker-packages")
    cache = load_lab_config(LAB_CONFIG).image_cache
    profiles = {}
    for name in VARIANTS:
        made = reference_packages(build_image(name, cache_dir=cache), out / f"{name}-packages")
        edit = functools.partial(_name_packages, section=made.profile_section())
        profiles[name] = knob_profile(out, None, base=name, name=f"maker-{name}", edit=edit)
    outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S)
    return {name: outcome.tests for name, outcome in outcomes.items()}


def _verdicts(run: dict[str, dict]) -> dict[str, str]:
    return {name: test["verdict"] for name, test in run.items() if name in FUNCTIONAL}


def test_hardened_passes_with_the_makers_packages(runs) -> None:
    assert _verdicts(runs["hardened"]) == dict.fromkeys(FUNCTIONAL, "PASS"), runs["hardened"]
    assert runs["hardened"]["test_update_cryptography_is_current"]["verdict"] == "PASS"


def test_the_weak_makers_cryptography_fails(runs) -> None:
    cryptography = runs["vulnerable"]["test_update_cryptography_is_current"]
    assert cryptography["verdict"] == "FAIL", cryptography
    assert "RSA-1024" in cryptography["reason"] and "SHA-1" in cryptography["reason"]


def test_vulnerable_fails_every_derived_package_and_the_rollback(runs) -> None:
    expected = {name: "PASS" if name == "test_valid_update_installs" else "FAIL" for name in FUNCTIONAL}
    assert _verdicts(runs["vulnerable"]) == expected, runs["vulnerable"]
    reason = runs["vulnerable"]["test_invalid_update_rejected[untrusted-signer]"]["reason"]
    assert "was installed" in reason and "signature replaced" in reason
    assert "the maker's older valid package" in runs["vulnerable"]["test_rollback_rejected"]["reason"]
