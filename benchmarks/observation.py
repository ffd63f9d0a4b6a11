"""Observation windows (issue 10): tests that watch the device's own traffic wait only for what
the whole-run capture still lacks.

    python benchmarks/observation.py [--profile device_profiles/qemu-reference-hardened.yaml]

Runs the suites whose tests observe the device (resilience, secure communication, SIP, update
channel) in one session against the hardened reference device, then reads each observing test's
window from its evidence (harness.device.observation's `ObservationWindow`). Target: every wait is
at most what was missing of its window when the wait began, plus 1 s; a test whose window the
device's current life already covered waits for nothing. Prints each test's duration too.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = (
    "test_resilience.py",
    "test_secure_communication.py",
    "test_sip_exposure.py",
    "test_update_channel.py",
)
# evidence file -> where its ObservationWindow is kept
WINDOWS = {
    "flows.json": ("window", "observation"),
    "sip-messages.json": ("window", "observation"),
    "automatic-update-check.json": ("observation",),
}
TOLERANCE_S = 1.0


def _window(path: Path) -> dict | None:
    data = json.loads(path.read_text())
    for key in WINDOWS[path.name]:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", type=Path, default=ROOT / "device_profiles/qemu-reference-hardened.yaml")
    parser.add_argument("--lab-config", type=Path, default=ROOT / "lab_configs/local-qemu.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hilsec-bench-") as tmp:
        report = Path(tmp) / "report"
        suites = [str(ROOT / "testsuites" / name) for name in SUITES]
        pytest.main([*suites, "-q", "-p", "no:cacheprovider", "--device-profile", str(args.profile),
                     "--lab-config", str(args.lab_config), "--report-dir", str(report)])  # fmt: skip
        results = json.loads((report / "results.json").read_text())
        print("\n== test durations ==")
        for test in results["tests"]:
            print(f"{test['duration_s']:>7.1f} s  {test['verdict']:<12} {test['nodeid']}")
        print("\n== observation windows: waited vs missing when the wait began ==")
        worst = 0.0
        for path in sorted(p for name in WINDOWS for p in (report / "evidence").rglob(name)):
            window = _window(path)
            if not window:
                continue
            began = window["end"] - window["waited_s"]
            missing = max(0.0, window["start"] + window["seconds"] - began)
            over = window["waited_s"] - missing if window["ended_by"] == "covered" else 0.0
            worst = max(worst, over)
            print(f"{window['waited_s']:>7.1f} s waited, {missing:>5.1f} s missing of {window['seconds']:>4.0f} s "
                  f"({window['ended_by']})  {path.parent.name}")  # fmt: skip
    verdict = "meets" if worst <= TOLERANCE_S else "MISSES"
    print(f"longest wait past what was missing {worst:.1f} s: {verdict} the target of <= {TOLERANCE_S:g} s")
    return 0 if worst <= TOLERANCE_S else 1


if __name__ == "__main__":
    sys.exit(main())
