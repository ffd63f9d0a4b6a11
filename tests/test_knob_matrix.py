"""Every weakness knob against the whole of testsuites/: which requirement verdicts it changes.

Slow (one full suite run per knob, two at a time), so it is not part of `make test`; run it with
`make knob-matrix` (it sets HILSEC_KNOB_MATRIX=1; without it the module is skipped). The expected changes are the knob's own requirement plus the overlaps that are
true findings (plaintext syslog is also plaintext communication; a SIP listener nobody declared is
also an undeclared open port), each written down here.
"""

from __future__ import annotations

import json
import os

import pytest
from reference_runs import ROOT, knob_profile, run_suites

from harness.emulation.variants import WEAKNESSES

pytestmark = [
    pytest.mark.knob_matrix,
    pytest.mark.skipif(
        os.environ.get("HILSEC_KNOB_MATRIX") != "1", reason="about 2.5 h: run with make knob-matrix"
    ),
]
RUN_TIMEOUT_S = 1500

# knob -> the requirements it must turn to FAIL (and no others).
EXPECTED_FAILS: dict[str, set[str]] = {
    "default-password": {"FS38-01", "FS38-06"},  # a default password is also a hard-coded one in the image
    "open-telnet": {"FS38-05"},  # telnet with the strong password still refuses every default
    "plaintext-telemetry": {"FS38-04"},
    "plaintext-syslog": {"FS38-07", "FS38-04"},  # the plaintext log flow is plaintext communication
    "no-log-export": {"FS38-07"},
    "debug-service": {"FS38-05", "FS38-01"},  # its shell asks for no credential: worse than a default one
    "unsigned-updates-accepted": {"FS38-03", "SSU-SEC-0001"},
    "rollback-accepted": {"FS38-03", "SSU-SEC-0001"},
    "weak-update-signing": {"FS38-03"},  # the cryptography test; every package still installs as it should
    "world-readable-secrets": {"FS38-06"},
    "baked-in-private-key": {"FS38-06"},
    "sip-identity-exposed": {"FS38-SIP-01", "FS38-04"},  # registers over plaintext UDP
    "sip-direct-invite-accepted": {"FS38-SIP-02", "FS38-05"},  # its listener is an undeclared port
    "no-update-fallback": {"SSU-TES-0020"},
    "patch-level-hidden": {"SSU-COM-0040"},
    "appended-archive-key": {"FS38-06"},  # found only by reading the initramfs past its first archive
    "plaintext-boot-beacon": {"FS38-04"},  # before any observation window: found by judging the whole run
    "fake-dtls-framing": {"FS38-04"},  # DTLS framing around plaintext: found by content, not framing
    "maintenance-login": {"FS38-05", "FS38-01"},  # telnet on a declared odd port, with admin:admin
    "console-backdoor": {"FS38-05", "FS38-01"},  # the console lockdown test marks both
    "gsm-null-cipher-accepted": {"FS38-GSM-01"},
    "imsi-disclosed-before-auth": {"FS38-GSM-01"},
    "sms-config-any-sender": {"FS38-GSM-02"},
    "sms-class0-silent-to-app": {"FS38-GSM-02"},
    "no-reconnect": {"FS38-07"},  # the resilience tests count for FS38-07 (no resilience ID in the catalog)
    "reconnect-storm": {"FS38-07"},
    "undeclared-interface-up": {"FS38-05"},  # the device's own interface list; not reachable from the lab
    "no-automatic-update-check": {"SSU-SEC-0001"},  # the device checks for updates only when asked
    "weak-ssh-host-key": {"FS38-01"},  # the authentication-cryptography tests (EN 303 645 5.1-3)
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str | None, dict[str, str]]:
    out = tmp_path_factory.mktemp("knobs")
    knobs: list[str | None] = [None, *sorted(WEAKNESSES)]
    profiles = {
        knob or "hardened": knob_profile(
            out,
            [knob] if knob else None,
            name=f"knob-{knob}" if knob else None,
            login_password="admin" if knob == "default-password" else None,
        )
        for knob in knobs
    }
    outcomes = run_suites(
        out, profiles, ["testsuites"], timeout_s=RUN_TIMEOUT_S, parallel=2, pytest_args=["-q"]
    )
    verdicts = {
        knob: {r["id"]: r["verdict"] for r in outcomes[knob or "hardened"].results["requirements"]}
        for knob in knobs
    }
    table = {str(k or "hardened"): v for k, v in verdicts.items()}
    (out / "matrix.json").write_text(json.dumps(table, indent=2))
    artifacts = ROOT / "build" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "knob-matrix.json").write_text(json.dumps(table, indent=2))
    return verdicts


def test_every_knob_has_an_expectation() -> None:
    assert set(EXPECTED_FAILS) == set(WEAKNESSES)


def test_hardened_fails_nothing(matrix: dict[str | None, dict[str, str]]) -> None:
    assert not [rid for rid, verdict in matrix[None].items() if verdict == "FAIL"]


@pytest.mark.parametrize("knob", sorted(EXPECTED_FAILS))
def test_knob_fails_exactly_its_requirements(knob: str, matrix: dict[str | None, dict[str, str]]) -> None:
    baseline, verdicts = matrix[None], matrix[knob]
    changed = {rid: (baseline[rid], verdict) for rid, verdict in verdicts.items() if verdict != baseline[rid]}
    fails = {rid for rid, (_, verdict) in changed.items() if verdict == "FAIL"}
    assert fails == EXPECTED_FAILS[knob], changed
    assert set(changed) == fails, f"verdicts changed other than to FAIL: {changed}"
