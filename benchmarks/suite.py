"""Suite overhead (issue 4): how much of a full run's wall time is the harness's own work.

    python benchmarks/suite.py [--profile device_profiles/qemu-reference-hardened.yaml] [--runs 1]

Runs the whole of testsuites/ in this process against the hardened reference device. The harness's
own overhead is the CPU time of this Python process (plugin, console parsing, capture analysis,
report writing); everything else of the wall time is the device's (QEMU booting and running, command
round trips, observation windows, the lab tools the tests start). The baseline is the same run's
wall time, so the printed ratio needs no figures from another machine. Target: overhead < 10 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGET_OVERHEAD = 0.10


def run_once(profile: Path, lab: Path, report_dir: Path) -> dict[str, float]:
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    status = pytest.main(
        [
            str(ROOT / "testsuites"),
            "-q",
            "-p",
            "no:cacheprovider",
            "--device-profile",
            str(profile),
            "--lab-config",
            str(lab),
            "--report-dir",
            str(report_dir),
        ]
    )
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    results = json.loads((report_dir / "results.json").read_text())
    return {
        "status": int(status),
        "wall_s": wall,
        "harness_cpu_s": cpu,
        "boot_s": float(results["device"].get("boot_seconds") or 0.0),
        "tests": len(results["tests"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", type=Path, default=ROOT / "device_profiles/qemu-reference-hardened.yaml")
    parser.add_argument("--lab-config", type=Path, default=ROOT / "lab_configs/local-qemu.yaml")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    rows = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hilsec-bench-") as tmp:
            rows.append(run_once(args.profile, args.lab_config, Path(tmp) / f"run{index}"))

    print("\n== suite overhead (hardened reference device) ==")
    print(
        f"{'run':>3} {'tests':>5} {'wall s':>8} {'device s':>9} {'harness s':>10} {'boot s':>7} {'overhead':>9}"
    )
    for index, row in enumerate(rows):
        device = row["wall_s"] - row["harness_cpu_s"]
        share = row["harness_cpu_s"] / row["wall_s"]
        print(
            f"{index:>3} {row['tests']:>5} {row['wall_s']:>8.1f} {device:>9.1f} {row['harness_cpu_s']:>10.1f} "
            f"{row['boot_s']:>7.1f} {share:>8.1%}"
        )
    worst = max(row["harness_cpu_s"] / row["wall_s"] for row in rows)
    verdict = "meets" if worst < TARGET_OVERHEAD else "MISSES"
    print(f"harness overhead {worst:.1%} of wall time: {verdict} the target of < {TARGET_OVERHEAD:.0%}")
    return 0 if worst < TARGET_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
