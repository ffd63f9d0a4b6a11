"""testsuites/test_update_channel.py against reference images: each knob fails only its own test.

Four runs in parallel (one QEMU each): the hardened image passes all three tests; with
`patch-level-hidden` only the patch-level test fails; with `no-update-fallback` only the
fallback test fails; with `no-automatic-update-check` only the test waiting for the device's own
update check fails (the fallback test still passes: it triggers its checks itself).
"""

from __future__ import annotations

import json

import pytest
from reference_runs import RunOutcome, knob_profile, run_suites

SUITE = "testsuites/test_update_channel.py"
RUN_TIMEOUT_S = 300
PATCH_LEVEL = "test_patch_level_and_date_readable_on_device"
FALLBACK = "test_falls_back_to_manufacturer_update_server"
AUTOMATIC = "test_device_checks_for_updates_on_its_own"
KNOBS = {
    "hardened": [],
    "hidden": ["patch-level-hidden"],
    "no-fallback": ["no-update-fallback"],
    "no-automatic-check": ["no-automatic-update-check"],
}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunOutcome]:
    out = tmp_path_factory.mktemp("update-channel")
    profiles = {name: knob_profile(out, knobs) for name, knobs in KNOBS.items()}
    return run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def runs(outcomes: dict[str, RunOutcome]) -> dict[str, dict[str, dict]]:
    return {name: outcome.tests for name, outcome in outcomes.items()}


def _automatic_check_evidence(outcome: RunOutcome) -> dict:
    found = sorted(outcome.report_dir.rglob("automatic-update-check.json"))
    assert len(found) == 1, (found, outcome.log_tail())
    return json.loads(found[0].read_text())


def _verdicts(run: dict[str, dict]) -> dict[str, str]:
    return {name: test["verdict"] for name, test in run.items()}


def test_hardened_passes_all_three(runs) -> None:
    assert _verdicts(runs["hardened"]) == {PATCH_LEVEL: "PASS", FALLBACK: "PASS", AUTOMATIC: "PASS"}, runs[
        "hardened"
    ]


def test_hardened_device_checked_unasked_within_its_interval(outcomes) -> None:
    """The PASS came from a request outside any check the harness triggered, in the bound. The
    test runs before the fallback test, so no triggered check reaches into its stretch."""
    evidence = _automatic_check_evidence(outcomes["hardened"])
    watch = evidence["watch"]
    assert "unasked, the device checked for updates" in evidence["assessment"]["reason"], evidence
    assert not any(end > watch["started"] for _, end in watch["harness_checks"]), watch
    own = [
        r
        for r in watch["requests"]
        if not any(start <= r["time"] <= end for start, end in watch["harness_checks"])
    ]
    assert own and 0 <= own[0]["time"] - watch["started"] <= watch["bound_s"], watch


def test_patch_level_hidden_fails_only_the_patch_level_test(runs) -> None:
    assert _verdicts(runs["hidden"]) == {PATCH_LEVEL: "FAIL", FALLBACK: "PASS", AUTOMATIC: "PASS"}, runs[
        "hidden"
    ]
    assert "shows no security patch level" in runs["hidden"][PATCH_LEVEL]["reason"]


def test_no_update_fallback_fails_only_the_fallback_test(runs) -> None:
    assert _verdicts(runs["no-fallback"]) == {PATCH_LEVEL: "PASS", FALLBACK: "FAIL", AUTOMATIC: "PASS"}, runs[
        "no-fallback"
    ]
    reason = runs["no-fallback"][FALLBACK]["reason"]
    assert "did not reach the manufacturer's server" in reason and "server=none" in reason


def test_no_automatic_update_check_fails_only_the_automatic_check_test(runs) -> None:
    run = runs["no-automatic-check"]
    assert _verdicts(run) == {PATCH_LEVEL: "PASS", FALLBACK: "PASS", AUTOMATIC: "FAIL"}, run
    assert "does not check for updates on its own" in run[AUTOMATIC]["reason"]
