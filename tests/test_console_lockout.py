"""The console-lockout hardening knob: brute-force protection must not cascade into other tests.

EN 303 645 5.1-5 and EN 18031-1 AUM-6 ask a device to resist brute force; the knob makes the
reference console refuse every login for a while after repeated failures. FS38-01 tries 17
default credentials on that console, so the lab's own login is locked out several times; the
strategy must wait each lockout out, every later test must still log in, every verdict must be
the hardened image's, and results.json must say what the strategy did.
"""

from __future__ import annotations

import pytest

from harness.emulation.variants import CONSOLE_LOCKOUT_ATTEMPTS, HARDENINGS, WEAKNESSES, get_variant

pytestmark = pytest.mark.integration
CONSOLE_TEST = "test_console_refuses_default_credentials"


@pytest.fixture(scope="module")
def lockout_run(reference_suite_runs: dict) -> dict:
    return reference_suite_runs["lockout"].results | {"_log": reference_suite_runs["lockout"].log}


def _verdicts(results: dict) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in results["requirements"]}


def test_the_knob_is_a_hardening_not_a_weakness() -> None:
    assert "console-lockout" in HARDENINGS and "console-lockout" not in WEAKNESSES
    assert not get_variant("vulnerable").hardenings  # "every weakness" does not include it


def test_every_verdict_is_the_hardened_one(lockout_run: dict, reference_suite_runs: dict) -> None:
    hardened = _verdicts(reference_suite_runs["emulated-hardened"].results)
    assert _verdicts(lockout_run) == hardened, [
        (t["nodeid"], t["verdict"], t["reason"]) for t in lockout_run["tests"]
    ]


def test_the_lockouts_were_waited_out_and_reported(lockout_run: dict) -> None:
    recoveries = lockout_run["device"].get("recoveries", [])
    waited = [r["what"] for r in recoveries if "worked again" in r["what"]]
    # 17 defaults, locked after every CONSOLE_LOCKOUT_ATTEMPTS failures: at least two lockouts.
    assert len(waited) >= 17 // CONSOLE_LOCKOUT_ATTEMPTS - 1, (recoveries, lockout_run["_log"][-3000:])
    console = next(t for t in lockout_run["tests"] if t["nodeid"].endswith(CONSOLE_TEST))
    assert console["verdict"] == "PASS", console
    assert any(path.endswith("recoveries.txt") for path in console["evidence"]), console
    assert all("power-cycled" not in r["what"] for r in recoveries), recoveries  # waited out, not rebooted
