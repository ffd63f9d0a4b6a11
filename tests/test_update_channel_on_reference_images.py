"""testsuites/test_update_channel.py against reference images: each knob fails only its own test.

Three runs in parallel (one QEMU each): the hardened image passes both tests; with
`patch-level-hidden` only the patch-level test fails; with `no-update-fallback` only the
fallback test fails.
"""

from __future__ import annotations

import pytest
from reference_runs import knob_profile, run_suites

SUITE = "testsuites/test_update_channel.py"
RUN_TIMEOUT_S = 240
PATCH_LEVEL = "test_patch_level_and_date_readable_on_device"
FALLBACK = "test_falls_back_to_manufacturer_update_server"
KNOBS = {"hardened": [], "hidden": ["patch-level-hidden"], "no-fallback": ["no-update-fallback"]}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    out = tmp_path_factory.mktemp("update-channel")
    profiles = {name: knob_profile(out, knobs) for name, knobs in KNOBS.items()}
    outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S)
    return {name: outcome.tests for name, outcome in outcomes.items()}


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
