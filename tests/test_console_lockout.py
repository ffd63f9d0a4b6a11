"""The console-lockout hardening knob: brute-force protection must not cascade into other tests.

EN 303 645 5.1-5 and EN 18031-1 AUM-6 ask a device to resist brute force; the knob makes the
reference console refuse every login for 10 s after 5 failures within 15 min. FS38-01 tries 17
default credentials on that console, so the lab's own login is locked out several times; the
strategy must wait each lockout out, every later test must still log in, every verdict must be
the hardened image's, and results.json must say what the strategy did.

The whole-suite run is the hardened bench twin's, which boots the image with this knob (see
tests/support/bench_twin.py REFERENCE_TWINS); tests/test_bench_twin.py compares its verdicts with
the emulated hardened run's, test by test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.bench_twin import REFERENCE_TWINS

from harness.config.loader import load_profile
from harness.emulation.variants import CONSOLE_LOCKOUT_ATTEMPTS, HARDENINGS, WEAKNESSES, Variant, get_variant

CONSOLE_TEST = "test_console_refuses_default_credentials"
DEFAULTS_TRIED = 17  # harness/data/default_credentials.txt


@pytest.fixture(scope="module")
def lockout_run(reference_suite_runs: dict) -> dict:
    run = reference_suite_runs["twin-hardened"]
    return run.results | {"_log": run.log}


def test_the_knob_is_a_hardening_not_a_weakness() -> None:
    assert "console-lockout" in HARDENINGS and "console-lockout" not in WEAKNESSES
    assert not get_variant("vulnerable").hardenings  # "every weakness" does not include it
    locked = Variant.custom(set(), {"console-lockout"})
    assert locked.name == "hardened+console-lockout" and not locked.weaknesses
    assert "CONSOLE_LOCKOUT_ATTEMPTS='5'" in locked.device_config()
    assert "CONSOLE_LOCKOUT_ATTEMPTS=''" in get_variant("hardened").device_config()
    assert "console-lockout" in REFERENCE_TWINS["twin-hardened"][2]


def test_a_profile_asks_for_the_knob(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parent.parent / "device_profiles/qemu-reference-hardened.yaml"
    data = yaml.safe_load(source.read_text())
    data["console"]["qemu"]["hardening"] = ["console-lockout"]
    data["update_policy"].pop("update_manifest")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    assert load_profile(tmp_path / "p.yaml").console.qemu.hardening == ["console-lockout"]


@pytest.mark.integration
@pytest.mark.bench_twin
def test_the_lockouts_were_waited_out_and_reported(lockout_run: dict) -> None:
    recoveries = [r["what"] for r in lockout_run["device"].get("recoveries", [])]
    waited = [what for what in recoveries if "worked again" in what]
    # 17 defaults lock the console three times; a lockout the harness meets is waited out. One that
    # has already run out when the lab logs in next (a slow console) needs no recovery, so: >= 1.
    assert DEFAULTS_TRIED // CONSOLE_LOCKOUT_ATTEMPTS == 3
    assert waited, (recoveries, lockout_run["_log"][-3000:])
    console = next(t for t in lockout_run["tests"] if t["nodeid"].endswith(CONSOLE_TEST))
    assert console["verdict"] == "PASS", console
    assert any(path.endswith("recoveries.txt") for path in console["evidence"]), console
    later = [t for t in lockout_run["tests"] if t["verdict"] == "INCONCLUSIVE" and "refused" in t["reason"]]
    assert not later, later  # no test after FS38-01 lost its login
