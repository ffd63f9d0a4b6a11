"""Many boards, one run (issue 10): the same suites on one device, then on two with `pytest -n 2`.

    python benchmarks/parallel.py [--suites testsuites/test_attack_surface.py ...]

The baseline is the same suites on one hardened reference device in one process; the measured run
is a lab pool of two such devices, one per pytest-xdist worker, each running every selected test
(twice the work). Both are measured in this run on this machine, so the printed ratio
wall(2 devices) / wall(1 device) needs no figures from elsewhere. Target: <= 1.3 on 2 cores (the
devices spend most of their time waiting on QEMU, so two should cost little more than one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.3
DEFAULT_SUITES = ("testsuites/test_attack_surface.py", "testsuites/test_default_credentials.py")
PROFILE = ROOT / "device_profiles/qemu-reference-hardened.yaml"
LAB = ROOT / "lab_configs/local-qemu.yaml"
RUN_TIMEOUT_S = 1800


def _pool_lab(folder: Path) -> Path:
    """The local lab config with a pool of two reference devices (its own locks folder)."""
    text = LAB.read_text()  # its paths are absolute or ~-relative, so it may live elsewhere
    pool = "".join(f"  - {{name: board-{name}, profile: {PROFILE}}}\n" for name in ("a", "b"))
    path = folder / "pool-lab.yaml"
    path.write_text(f"{text}\nlocks_dir: {folder / 'locks'}\npool:\n{pool}")
    return path


def _run(suites: list[str], report: Path, lab: Path, workers: int) -> dict[str, float]:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites,
            "--device-profile", str(PROFILE), "--lab-config", str(lab), "--report-dir", str(report)]  # fmt: skip
    if workers > 1:
        argv += ["-n", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    wall = time.perf_counter() - started
    results_file = report / "results.json"
    if not results_file.is_file():
        raise SystemExit(
            f"no results.json from {' '.join(argv)}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    results = json.loads(results_file.read_text())
    tests = sum(len(run["tests"]) for run in results.get("runs") or [results])  # a pool: one run per device
    return {"wall_s": wall, "tests": float(tests), "status": float(done.returncode)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suites", nargs="+", default=list(DEFAULT_SUITES))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("note: not root, so the devices use QEMU user networking; the lab LAN needs root")
    with tempfile.TemporaryDirectory(prefix="hilsec-parallel-") as tmp:
        folder = Path(tmp)
        one = _run(args.suites, folder / "one", LAB, 1)
        two = _run(args.suites, folder / "two", _pool_lab(folder), 2)
    ratio = two["wall_s"] / one["wall_s"]
    print("\n== one device vs two devices with -n 2 (the same suites on each) ==")
    print(f"{'run':<22} {'tests':>5} {'wall s':>8}")
    print(f"{'1 device, 1 process':<22} {one['tests']:>5.0f} {one['wall_s']:>8.1f}")
    print(f"{'2 devices, -n 2':<22} {two['tests']:>5.0f} {two['wall_s']:>8.1f}")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"wall(2)/wall(1) = {ratio:.2f}: {verdict} the target of <= {TARGET_RATIO}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
