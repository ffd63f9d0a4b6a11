"""testsuites/test_secure_boot.py both ways: OVMF enforcing (hardened profile) PASSes, OVMF without
enrolled keys (vulnerable profile) FAILs: its variable store has no Platform Key (setup mode) and the
booted kernel reports "Secure boot disabled", so the tampered images need not be booted.

Both runs need no internet: the Secure Boot chain is prepared first (`hilsec image prepare`, and the
images built, as `make test` and `make demo` do before any run), then each run has downloads
disabled (HILSEC_OFFLINE) and, where the host allows it, no network at all (`unshare --net`).
"""

from __future__ import annotations

import os
import shutil

import pytest
from reference_runs import LAB_CONFIG, knob_profile, run_suites

from harness.config import load_lab_config
from harness.emulation import build_image
from harness.emulation.debs import OFFLINE_ENV
from harness.secureboot.components import prepare_components

RUN_TIMEOUT_S = 900
# An upper bound per boot attempt (each ends as soon as its console decides), above the shipped
# profiles' 40 s: the signed chain reached login in ~15 s on a quiet machine, 35-100 s at loads of
# 8-14 on 2 cores (TCG shares the CPUs with other QEMUs).
BOOT_BOUND_S = 150
pytestmark = pytest.mark.integration


def _bounded(data: dict) -> None:
    data["secure_boot"]["boot_timeout_s"] = BOOT_BOUND_S


def _without_network() -> list[str]:
    """`unshare --net` when this host lets us make a network namespace (root), else nothing."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net", "--"]
    return []


@pytest.fixture(scope="module")
def prepared() -> None:
    cache = load_lab_config(LAB_CONFIG).image_cache
    prepare_components(cache)
    for variant in ("hardened", "vulnerable"):
        build_image(variant, cache_dir=cache)


@pytest.mark.parametrize(("variant", "verdict"), [("hardened", "PASS"), ("vulnerable", "FAIL")])
def test_secure_boot_verdict(prepared, tmp_path, variant, verdict):
    outcome = run_suites(
        tmp_path,
        {variant: knob_profile(tmp_path, None, base=variant, name=f"offline-{variant}", edit=_bounded)},
        ["testsuites/test_secure_boot.py"],
        timeout_s=RUN_TIMEOUT_S,
        env={OFFLINE_ENV: "1"},
        prefix=_without_network(),
    )[variant]
    tests = outcome.results["tests"]
    assert [t["verdict"] for t in tests] == [verdict], tests
    if verdict == "FAIL":  # decided from the platform itself: no keys enrolled, and it says so
        assert "setup mode" in tests[0]["reason"] and "Secure boot disabled" in tests[0]["reason"]
