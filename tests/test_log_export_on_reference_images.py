"""testsuites/test_log_export.py against reference images: each log-export knob makes it FAIL.

Four runs, two at a time (one QEMU each): the hardened image exports every induced event over
TLS and passes; `plaintext-syslog` fails "securely" (records over UDP); `no-log-export` fails
naming each event; the vulnerable image (every knob: plaintext wins) fails "securely".
"""

from __future__ import annotations

import json

import pytest
from reference_runs import knob_profile, reference_profile, run_suites

SUITE = "testsuites/test_log_export.py"
TEST = "test_security_events_are_exported_securely"
RUN_TIMEOUT_S = 300
PARALLEL_RUNS = 2
KNOBS: dict[str, list[str] | None] = {
    "hardened": [],
    "plaintext": ["plaintext-syslog"],
    "none": ["no-log-export"],
    "vulnerable": None,  # the shipped vulnerable profile: every knob, default password
}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("log-export")
    profiles = {
        name: reference_profile("vulnerable") if knobs is None else knob_profile(out, knobs)
        for name, knobs in KNOBS.items()
    }
    outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S, parallel=PARALLEL_RUNS)
    results: dict[str, dict] = {}
    for name, outcome in outcomes.items():
        [test] = [t for t in outcome.results["tests"] if t["nodeid"].endswith(TEST)]
        results[name] = test | {
            "requirement": outcome.requirement("FS38-07")["verdict"],
            "report": outcome.report_dir,
        }
    return results


def test_hardened_exports_every_event_over_tls(runs) -> None:
    run = runs["hardened"]
    assert (run["verdict"], run["requirement"]) == ("PASS", "PASS"), run
    [evidence] = [p for p in run["evidence"] if p.endswith("log-export.json")]
    data = json.loads((run["report"] / evidence).read_text())
    secure = data["assessment"]["exported_securely"]
    assert any("console" in e for e in secure) and any("SSH" in e for e in secure), data["assessment"]


def test_plaintext_syslog_fails_securely(runs) -> None:
    run = runs["plaintext"]
    assert (run["verdict"], run["requirement"]) == ("FAIL", "FAIL"), run
    assert "logs exported in plaintext (not securely)" in run["reason"] and "over UDP" in run["reason"]
    assert "was not exported" not in run["reason"], run["reason"]


def test_no_log_export_fails_naming_each_event(runs) -> None:
    run = runs["none"]
    assert (run["verdict"], run["requirement"]) == ("FAIL", "FAIL"), run
    assert "failed console login for 'root' was not exported" in run["reason"]
    assert "failed SSH login for 'root' from 10.0.2.2 was not exported" in run["reason"]
    assert "plaintext" not in run["reason"]


def test_vulnerable_fails(runs) -> None:
    run = runs["vulnerable"]
    assert (run["verdict"], run["requirement"]) == ("FAIL", "FAIL"), run
    assert "logs exported in plaintext (not securely)" in run["reason"]
