"""Peak memory of the capture analysis on the worst hostile captures we can build (issue 8).

    python benchmarks/capture_memory.py [--size 2000000] [--workdir DIR]

Each capture (at most --size bytes) aims at one buffer: DTLS hello fragments of ever new messages
claiming 64 KiB (once 4 GB of memory for 1.8 MB), fragments that fill what each flow may keep,
TCP segments waiting for a gap that never fills, and as many one-packet flows as fit. Each is
analysed in a fresh interpreter; the peak RSS (VmHWM) is printed next to an empty capture's, and
against the goal of 256 MB for any capture of 2 MB or less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.hostile_captures import (  # noqa: E402
    write_fake_dtls,
    write_flow_flood,
    write_fragment_storm,
    write_tcp_gap_storm,
)

GOAL_MB = 256
PACKET_OVERHEAD = 16 + 14 + 20 + 8 + 1  # pcap record, Ethernet, IPv4, UDP, one payload byte


def measure(pcap: Path) -> dict:
    """classify every flow of `pcap` in a fresh interpreter: its peak RSS and what it found."""
    code = (
        "import json,sys,time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from harness.analysis.capture import analyze_capture\n"
        "t=time.perf_counter(); a=analyze_capture([sys.argv[1]]); t=time.perf_counter()-t\n"
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'seconds':t,'flows':len(a.flows),'untracked':a.untracked_flows,"
        "'retained_peak':a.retained_peak,'peak_rss_mb':int(hwm)/1024}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(pcap)], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2_000_000, help="bytes per hostile capture")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hilsec-capture-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    budget = args.size - 4096  # the writers stop past their size by at most one packet

    captures = {
        "empty": lambda p: write_fake_dtls(p, b""),
        "dtls-new-message-fragments": lambda p: write_fragment_storm(p, size=budget, flows=64),
        "dtls-new-message-fragments-1-flow": lambda p: write_fragment_storm(p, size=budget, flows=1),
        "dtls-filling-fragments": lambda p: write_fragment_storm(p, size=budget, flows=30, fill=True),
        "tcp-segments-behind-a-gap": lambda p: write_tcp_gap_storm(p, size=budget, flows=32),
        "one-packet-flows": lambda p: write_flow_flood(p, flows=budget // PACKET_OVERHEAD),
    }
    results = {}
    for name, build in captures.items():
        pcap = workdir / f"{name}.pcap"
        build(pcap)
        results[name] = measure(pcap) | {"bytes": pcap.stat().st_size}
    baseline = results["empty"]["peak_rss_mb"]
    worst = max(r["peak_rss_mb"] for r in results.values())
    for name, r in results.items():
        print(
            f"{name:36s} {r['bytes'] / 1e6:5.2f} MB capture: peak RSS {r['peak_rss_mb']:6.1f} MB "
            f"({r['peak_rss_mb'] - baseline:+6.1f} over an empty capture), {r['flows']} flows, "
            f"{r['untracked']} untracked, reassembly buffers peak {r['retained_peak'] / 1e6:.2f} MB, "
            f"{r['seconds']:.2f} s"
        )
    verdict = "met" if worst <= GOAL_MB else "MISSED"
    print(
        f"worst peak RSS {worst:.1f} MB for captures <= {args.size / 1e6:.1f} MB (goal <= {GOAL_MB} MB): {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
