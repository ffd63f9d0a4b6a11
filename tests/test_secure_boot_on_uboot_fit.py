"""FS38-02 on a U-Boot board's verified boot, through the bench path: testsuites/test_secure_boot.py
against tests/data/benches/uboot-qemu-arm64-fit.yaml, console on a pty, power by command, each FIT
written into the board's flash by the lab config's `boot_media.write` command.

With the public key `required` in U-Boot's control device tree, the board's own signed FIT boots
and the unsigned, re-signed (untrusted key) and tampered FITs are refused: PASS. With no key in
the control device tree (the weakness), the unsigned FIT is accepted: FAIL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from reference_runs import run_suites
from support.serial_adapter import SerialAdapterStandIn
from support.uboot_board import have_uboot_bench, make_fit_board

SUITE = "testsuites/test_secure_boot.py"
PROFILE = Path(__file__).parent / "data" / "benches" / "uboot-qemu-arm64-fit.yaml"
RUN_TIMEOUT_S = 240

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (have_uboot_bench() and shutil.which("mkimage") and shutil.which("fdtput")),
        reason="needs qemu-system-aarch64, u-boot-qemu, u-boot-tools, device-tree-compiler (Makefile APT_PACKAGES)",
    ),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("uboot-fit")
    boards, adapters, labs, profiles = {}, {}, {}, {}
    try:
        for name, required in (("required", True), ("unchecked", False)):
            board, _fit = make_fit_board(out / name, key_required=required)
            boards[name] = board
            adapters[name] = SerialAdapterStandIn(board.directory)
            board.uart_socket = adapters[name].board_socket
            labs[name] = board.write_lab_config(adapters[name].device_path, out / f"{name}-lab.yaml")
            profiles[name] = shutil.copy(PROFILE, board.directory / PROFILE.name)
        outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S, lab_config=labs)
        return {name: outcome for name, outcome in outcomes.items()}
    finally:
        for board in boards.values():
            board.power_off()
        for adapter in adapters.values():
            adapter.close()


def _attempts(outcome) -> dict[str, str]:
    import json

    record = json.loads(next((outcome.report_dir / "evidence").rglob("secure-boot.json")).read_text())
    return {a["image"]: a["outcome"] for a in record["attempts"]}


def test_required_key_refuses_every_derived_fit(runs) -> None:
    outcome = runs["required"]
    test = outcome.results["tests"][0]
    assert test["verdict"] == "PASS", outcome.log_tail()
    assert _attempts(outcome) == {
        "signed": "booted",
        "unsigned": "refused",
        "untrusted-key": "refused",
        "tampered-image": "refused",
    }


def test_board_without_a_required_key_fails(runs) -> None:
    outcome = runs["unchecked"]
    test = outcome.results["tests"][0]
    assert test["verdict"] == "FAIL", outcome.log_tail()
    assert "unsigned" in test["reason"]
    assert _attempts(outcome)["unsigned"] == "booted"
