"""testsuites/test_network_interfaces.py against reference images: PASS hardened, FAIL with the knob.

Two runs of the one suite in parallel (one QEMU each): the hardened profile, and the same profile
on an image with `undeclared-interface-up` (maint0 up with an address, declared nowhere).
"""

from __future__ import annotations

import pytest
from reference_runs import knob_profile, run_suites

SUITE = "testsuites/test_network_interfaces.py"
TEST = "test_network_interfaces_in_declared_state"
RUN_TIMEOUT_S = 600
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("interfaces")
    profiles = {
        "hardened": knob_profile(out, [], name="qemu-reference-hardened"),
        "knob": knob_profile(out, ["undeclared-interface-up"]),
    }
    return run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S)


def test_hardened_image_passes(runs: dict) -> None:
    test = runs["hardened"].tests[TEST]
    assert test["verdict"] == "PASS", test


def test_undeclared_interface_up_fails_naming_it(runs: dict) -> None:
    test = runs["knob"].tests[TEST]
    assert test["verdict"] == "FAIL", test
    assert "maint0 is up" in test["reason"] and "192.168.250.1/24" in test["reason"], test["reason"]
    assert "eth0" not in test["reason"], test["reason"]
