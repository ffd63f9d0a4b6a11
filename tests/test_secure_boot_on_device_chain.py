"""FS38-02 judged on the device's own UEFI chain: profiles name the firmware, the variable store
(its enrolled keys) and the boot images, and the harness tampers with those images.

- own chain, keys enrolled and enforced: PASS (the named loader, second stage and kernel boot;
  the kernel with one byte changed and the loader with its signature stripped are refused).
- a variable store without a Platform Key (setup mode): FAIL, although the profile declares
  `enforce: true`.
- keys enrolled but SecureBootEnable=0: FAIL, also declared `enforce: true`; the platform's own
  console report ("Secure boot disabled") is in the evidence.
The platforms that do not enforce are decided from their variable store and the control boot only.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from reference_runs import LAB_CONFIG, knob_profile, run_suites
from support import uefi_stores

from harness.config import load_lab_config
from harness.emulation import build_image
from harness.secureboot.components import prepare_components

SUITE = "testsuites/test_secure_boot.py"
RUN_TIMEOUT_S = 900
# An upper bound per boot attempt, not a wait: each attempt ends as soon as its console decides.
# Measured: the control chain reaches login in ~15 s on a quiet machine and 35-42 s at a load of 8
# on 2 cores (TCG shares the CPUs), past the profiles' default 40 s.
BOOT_BOUND_S = 150
pytestmark = pytest.mark.integration


def _name_chain(data: dict, *, chain: dict) -> None:
    data["secure_boot"] = {"method": "uefi-ovmf", "enforce": True, "boot_timeout_s": BOOT_BOUND_S, **chain}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("device-chain")
    cache = load_lab_config(LAB_CONFIG).image_cache
    components = prepare_components(cache)
    build_image("hardened", cache_dir=cache)
    ovmf: Path = components.ovmf_dir
    code = str(ovmf / uefi_stores.SECURE_CODE)
    chains = {
        "own-chain": {
            "firmware": code,
            "variables": str(ovmf / uefi_stores.ENROLLED_STORE),
            "loader": str(components.shim),
            "stage2": str(components.grub),
            "kernel": str(components.kernel),
        },
        "setup-mode": {"firmware": code, "variables": str(uefi_stores.setup_mode_store(ovmf))},
        "disabled": {
            "firmware": code,
            "variables": str(uefi_stores.disabled_store(ovmf, out / "disabled.fd")),
        },
    }
    profiles = {
        name: knob_profile(out, [], name=f"uefi-{name}", edit=functools.partial(_name_chain, chain=chain))
        for name, chain in chains.items()
    }
    outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S)
    return {name: outcome.results["tests"][0] for name, outcome in outcomes.items()}


def test_own_chain_enforced_passes(runs) -> None:
    assert runs["own-chain"]["verdict"] == "PASS", runs["own-chain"]


def test_setup_mode_fails_whatever_the_profile_declares(runs) -> None:
    test = runs["setup-mode"]
    assert test["verdict"] == "FAIL" and "setup mode" in test["reason"], test


def test_secure_boot_switched_off_fails_whatever_the_profile_declares(runs) -> None:
    test = runs["disabled"]
    assert test["verdict"] == "FAIL" and "SecureBootEnable=0" in test["reason"], test
