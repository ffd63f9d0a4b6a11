"""testsuites/test_authentication_cryptography.py against the `weak-ssh-host-key` reference image
(an RSA-1024 host key besides the hardened image's Ed25519 one): both tests FAIL, naming ssh-rsa,
the key size and the undeclared algorithms.

One QEMU run. The hardened image's PASS and the vulnerable image's FAIL are asserted on the
session's whole-suite runs (tests/test_suites_on_reference_images.py), which boot them anyway.
"""

from __future__ import annotations

import pytest
from reference_runs import knob_profile, run_suites

SUITE = "testsuites/test_authentication_cryptography.py"
ATTACK = "test_ssh_cryptography_has_no_known_feasible_attack"
DECLARED = "test_ssh_offers_only_the_declared_cryptography"
RUN_TIMEOUT_S = 300

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("ssh-crypto")
    [outcome] = run_suites(
        out, {"weak": knob_profile(out, ["weak-ssh-host-key"])}, [SUITE], timeout_s=RUN_TIMEOUT_S
    ).values()
    return outcome.tests | {"FS38-01": outcome.requirement("FS38-01")}


def test_rsa_1024_host_key_fails_naming_the_key_and_its_sha1_signatures(run) -> None:
    reason = run[ATTACK]["reason"]
    assert run[ATTACK]["verdict"] == "FAIL", run[ATTACK]
    assert "host-key algorithm ssh-rsa: its signatures use SHA-1" in reason, reason
    assert "RSA-1024 host key behind rsa-sha2-256, ssh-rsa gives 80-bit security" in reason, reason
    assert "diffie-hellman-group14-sha1" not in reason, reason  # a note, not a finding


def test_rsa_algorithms_beyond_the_declaration_fail(run) -> None:
    assert run[DECLARED]["verdict"] == "FAIL", run[DECLARED]
    assert (
        "offers host_key rsa-sha2-256, ssh-rsa, not declared in network.services[0]"
        in run[DECLARED]["reason"]
    )
    assert run["FS38-01"]["verdict"] == "FAIL"
