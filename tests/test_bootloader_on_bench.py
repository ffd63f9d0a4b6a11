"""FS38-05's bootloader test through the bench path, on real U-Boot: testsuites/test_debug_interfaces.py
run by pytest against bench profiles (tests/data/benches/), the board's UART on a pty named in the
lab config's `serial_ports`, power by the lab config's shell commands that start and kill QEMU.

Debian's u-boot-qemu qemu_arm64 build with its default environment (bootdelay=2) FAILs; the same
U-Boot with an environment image (mkenvimage) that sets bootdelay=-2 PASSes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_runs import run_suites
from support.serial_adapter import SerialAdapterStandIn
from support.uboot_board import LOCKED_ENV, UbootBoard, have_uboot_bench, make_env_flash

SUITE = "testsuites/test_debug_interfaces.py"
BENCHES = Path(__file__).parent / "data" / "benches"
RUN_TIMEOUT_S = 180
TEST = "test_bootloader_console_cannot_be_interrupted"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not have_uboot_bench(),
        reason="needs qemu-system-aarch64, u-boot-qemu and u-boot-tools (Makefile APT_PACKAGES)",
    ),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("uboot-bench")
    boards = {
        "stock": UbootBoard(out / "stock", out / "stock" / "uart.sock"),
        "locked": UbootBoard(
            out / "locked", out / "locked" / "uart.sock", env_flash=make_env_flash(out / "locked", LOCKED_ENV)
        ),
    }
    adapters = {}
    try:
        labs = {}
        for name, board in boards.items():
            adapters[name] = SerialAdapterStandIn(board.directory)
            board.uart_socket = adapters[name].board_socket
            labs[name] = board.write_lab_config(adapters[name].device_path, out / f"{name}-lab.yaml")
        profiles = {name: BENCHES / f"uboot-qemu-arm64-{name}.yaml" for name in boards}
        outcomes = run_suites(out, profiles, [SUITE], timeout_s=RUN_TIMEOUT_S, lab_config=labs)
        return {"outcomes": outcomes, "adapters": {n: a.connections for n, a in adapters.items()}}
    finally:
        for board in boards.values():
            board.power_off()
        for adapter in adapters.values():
            adapter.close()


def test_stock_uboot_fails_through_the_bench_path(runs) -> None:
    outcome = runs["outcomes"]["stock"]
    test = outcome.tests[TEST]
    assert test["verdict"] == "FAIL", outcome.log_tail()
    assert "U-Boot command prompt '=>'" in test["reason"] and "Hit any key to stop autoboot" in test["reason"]
    assert outcome.requirement("FS38-05")["verdict"] == "FAIL"
    assert runs["adapters"]["stock"] >= 1  # the board really was powered on through the lab's command
    assert outcome.tests["test_usb_exposes_no_undeclared_debug_function"]["verdict"] == "NOT_APPLICABLE"


def test_locked_uboot_passes_through_the_bench_path(runs) -> None:
    outcome = runs["outcomes"]["locked"]
    test = outcome.tests[TEST]
    assert test["verdict"] == "PASS", outcome.log_tail()
    watch = next((outcome.report_dir / "evidence").rglob("bootloader-watch.txt")).read_text()
    assert "U-Boot starting an application" in watch
    assert "keys sent: 0" not in watch  # keys were pressed from power-on and ignored
    assert outcome.requirement("FS38-05")["verdict"] == "PASS"
    assert outcome.tests["test_usb_exposes_no_undeclared_debug_function"]["verdict"] == "NOT_APPLICABLE"
