"""Suite time and overhead (issues 4 and 10): how long a full run takes, where, and how much of it
is the harness's own work.

    python benchmarks/suite.py [--profile device_profiles/qemu-reference-hardened.yaml] [--runs 1]

Runs the whole of testsuites/ in this process against the hardened reference device. The harness's
own overhead is the CPU time of this Python process (plugin, console parsing, capture analysis,
report writing); everything else of the wall time is the device's (QEMU booting and running, command
round trips, observation windows, the lab tools the tests start). The baseline is the same run's
wall time, so the printed ratio needs no figures from another machine. Target: overhead < 10 %.

It also prints the run's wall time against issue 10's goal (<= 100 s for the full hardened suite)
and the five longest tests, each as setup + call + teardown as pytest reports them, with its share
of the run: where the next second is to be won.
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
GOAL_WALL_S = 100.0
LONGEST = 5


class DurationsPerTest:
    """A pytest plugin that adds up each test's setup, call and teardown durations."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def longest(self, count: int) -> list[tuple[str, float]]:
        return sorted(self.seconds.items(), key=lambda item: item[1], reverse=True)[:count]


def run_once(profile: Path, lab: Path, report_dir: Path) -> dict:
    times = DurationsPerTest()
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
        ],
        plugins=[times],
    )
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    results = json.loads((report_dir / "results.json").read_text())
    return {
        "status": int(status),
        "wall_s": wall,
        "harness_cpu_s": cpu,
        "boot_s": float(results["device"].get("boot_seconds") or 0.0),
        "tests": len(results["tests"]),
        "longest": times.longest(LONGEST),
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
    for index, row in enumerate(rows):
        print(f"\n== run {index}: the {LONGEST} longest tests (setup + call + teardown) ==")
        for nodeid, seconds in row["longest"]:
            print(f"{seconds:>7.1f} s {seconds / row['wall_s']:>6.1%}  {nodeid}")
    fastest = min(row["wall_s"] for row in rows)
    print(
        f"\nfull hardened suite: {fastest:.1f} s, {fastest / GOAL_WALL_S:.2f}x issue 10's goal of "
        f"<= {GOAL_WALL_S:.0f} s ({'meets' if fastest <= GOAL_WALL_S else 'MISSES'} it)"
    )
    worst = max(row["harness_cpu_s"] / row["wall_s"] for row in rows)
    verdict = "meets" if worst < TARGET_OVERHEAD else "MISSES"
    print(f"harness overhead {worst:.1%} of wall time: {verdict} the target of < {TARGET_OVERHEAD:.0%}")
    return 0 if worst < TARGET_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
