"""Capture-analysis throughput (issue 4): harness fast path vs tshark fields vs pyshark.

    python benchmarks/capture.py [--packets 200000] [--record] [--workdir DIR]

Builds a capture of real openssl DTLS 1.0/1.2 sessions (the committed reference captures, or
freshly recorded ones with --record) replicated over many client addresses/ports and mixed with
plaintext UDP telemetry, streamed to disk. The number of flows is fixed and only the number of
packets grows, so peak memory of the harness pass must not depend on the capture length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support/: real-traffic generators and the tshark oracle

from support.tshark import tshark_flows  # noqa: E402

from harness.analysis.capture.flows import classify_flows  # noqa: E402
from harness.analysis.capture.pcapio import PcapWriter, iter_packets  # noqa: E402

SEEDS = ("dtls12.pcap", "dtls10.pcapng", "dtls12_fragmented.pcap", "dtls12_null.pcap")
DTLS_FLOWS = 2000
PLAINTEXT_FLOWS = 500
SERVER_IP = bytes([10, 0, 2, 2])


def _session_packets(pcap: Path) -> list[tuple[float, bool, bytes]]:
    """(relative time, from client, UDP payload) of the one DTLS session in a seed capture."""
    packets = list(iter_packets(pcap))
    first_ts = packets[0][0]
    client_port = None
    session = []
    for ts, _linktype, frame in packets:
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        sport = (ip[header] << 8) | ip[header + 1]
        client_port = client_port if client_port is not None else sport
        length = ((ip[header + 4] << 8) | ip[header + 5]) - 8
        session.append((ts - first_ts, sport == client_port, bytes(ip[header + 8 : header + 8 + length])))
    return session


def _frame(src: bytes, sport: int, dst: bytes, dport: int, payload: bytes) -> bytes:
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    checksum = _ip_checksum(ip)
    ip = ip[:10] + struct.pack(">H", checksum) + ip[12:]
    return b"\x52\x54\x00\x12\x34\x56\x52\x55\x0a\x00\x02\x02\x08\x00" + ip + udp


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(">10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _with_sequence(payload: bytes, sequence: int) -> bytes:
    """An application-data datagram with a fresh DTLS record sequence number."""
    return payload[:5] + sequence.to_bytes(6, "big") + payload[11:]


def build_capture(path: Path, packets: int, seeds: list[list[tuple[float, bool, bytes]]]) -> dict:
    """Stream a capture of ``packets`` packets: DTLS_FLOWS handshakes, then application data and
    plaintext telemetry round-robin over a fixed set of flows."""
    start = 1_795_000_000.0
    written = 0
    dtls_flows = []
    with open(path, "wb") as handle:
        writer = PcapWriter(handle, 1)
        clock = start
        for index in range(DTLS_FLOWS):
            session = seeds[index % len(seeds)]
            client = bytes([10, 0, (index >> 8) & 0xFF, (index & 0xFF) or 1])
            port = 40000 + index % 20000
            server_port = 5684 if index % 2 else 45684
            for offset, from_client, payload in session:
                if from_client:
                    frame = _frame(client, port, SERVER_IP, server_port, payload)
                else:
                    frame = _frame(SERVER_IP, server_port, client, port, payload)
                writer.write(clock + offset, frame)
                written += 1
            app_data = [p for _, c, p in session if c and p[0] == 23] or [session[-1][2]]
            dtls_flows.append((client, port, server_port, app_data[0]))
            clock += 0.01
        sequence = 10
        flow = 0
        while written < packets:
            clock += 0.0005
            if flow % 3 == 2:
                plain = flow % PLAINTEXT_FLOWS
                client = bytes([10, 1, plain >> 8, (plain & 0xFF) or 1])
                text = f"imei=3569380356{plain:05d};temp={20 + flow % 10}.5;seq={sequence}".encode()
                writer.write(clock, _frame(client, 50000 + plain, SERVER_IP, 5683, text))
            else:
                client, port, server_port, record = dtls_flows[flow % DTLS_FLOWS]
                writer.write(
                    clock, _frame(client, port, SERVER_IP, server_port, _with_sequence(record, sequence))
                )
            written += 1
            flow += 1
            sequence += 1
    return {"packets": written, "dtls_flows": DTLS_FLOWS, "plaintext_flows": PLAINTEXT_FLOWS}


def measure_harness(pcap: Path) -> dict:
    """Run classify_flows in a fresh interpreter: wall time and that process's peak RSS (VmHWM:
    ru_maxrss would carry over the parent's high-water mark across fork+exec)."""
    code = (
        "import json,sys,time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from harness.analysis.capture.flows import classify_flows\n"
        "t=time.perf_counter(); flows=classify_flows(sys.argv[1]); t=time.perf_counter()-t\n"
        "kinds={}\n"
        "for f in flows: kinds[f.kind]=kinds.get(f.kind,0)+1\n"
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'seconds':t,'flows':len(flows),'kinds':kinds,'peak_rss_mb':int(hwm)/1024}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(pcap)], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(result.stdout)


def measure_pyshark(pcap: Path, sample: int) -> dict | None:
    try:
        import pyshark
    except ImportError:
        return None
    capture = pyshark.FileCapture(str(pcap), decode_as={"udp.port==45684": "dtls"}, keep_packets=False)
    seen = 0
    versions: set[str] = set()
    started = time.perf_counter()
    try:
        for packet in capture:
            if hasattr(packet, "dtls"):
                version = getattr(packet.dtls, "record_version", None)
                if version:
                    versions.add(str(version))
            seen += 1
            if seen >= sample:
                break
    finally:
        capture.close()
    seconds = time.perf_counter() - started
    return {"packets": seen, "seconds": seconds, "versions": sorted(versions)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument(
        "--small", type=int, default=50_000, help="size of the memory-growth comparison capture"
    )
    parser.add_argument("--pyshark-sample", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="record fresh openssl sessions as seeds")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hilsec-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    seed_dir = ROOT / "tests" / "data" / "pcaps"
    if args.record:
        from support.lab_sessions import build_reference_captures

        seed_dir = workdir / "seeds"
        build_reference_captures(seed_dir)
    seeds = [_session_packets(seed_dir / name) for name in SEEDS]

    big, small = workdir / "bench-large.pcap", workdir / "bench-small.pcap"
    started = time.perf_counter()
    info = build_capture(big, args.packets, seeds)
    build_capture(small, args.small, seeds)
    print(
        f"built {info['packets']} packets ({big.stat().st_size / 1e6:.1f} MB) in "
        f"{time.perf_counter() - started:.1f} s: {info}"
    )

    runs = [measure_harness(big) for _ in range(args.runs)]
    harness_seconds = statistics.median(r["seconds"] for r in runs)
    harness_rate = info["packets"] / harness_seconds
    print(
        f"harness classify_flows: {harness_rate:,.0f} packets/s (median of {args.runs}: "
        f"{harness_seconds:.2f} s), flows {runs[0]['flows']} {runs[0]['kinds']}"
    )

    started = time.perf_counter()
    oracle = tshark_flows(big, dtls_ports=(5684, 45684), timeout=900)
    tshark_seconds = time.perf_counter() - started
    tshark_rate = info["packets"] / tshark_seconds
    print(
        f"tshark -T fields (+Python reading lines): {tshark_rate:,.0f} packets/s ({tshark_seconds:.1f} s), "
        f"flows {len(oracle)}"
    )

    fast = classify_flows(big)
    agree = [(f.client, f.kind, f.negotiated_suite) for f in fast] == [
        (f.client, f.kind, f.negotiated_suite) for f in oracle
    ]
    print(f"harness and tshark agree on every flow (client, kind, suite): {agree}")

    pyshark_result = measure_pyshark(big, args.pyshark_sample)
    if pyshark_result:
        pyshark_rate = pyshark_result["packets"] / pyshark_result["seconds"]
        print(
            f"pyshark FileCapture loop: {pyshark_rate:,.0f} packets/s "
            f"({pyshark_result['packets']} packets in {pyshark_result['seconds']:.1f} s)"
        )
    else:
        pyshark_rate = None
        print("pyshark not installed: pip install pyshark")

    print(f"ratio harness/tshark: {harness_rate / tshark_rate:.1f} (target >= 10)")
    if pyshark_rate:
        print(f"ratio harness/pyshark: {harness_rate / pyshark_rate:.0f} (target >= 300)")

    small_run = measure_harness(small)
    print(
        f"peak RSS of the harness pass: {runs[0]['peak_rss_mb']:.1f} MB at {info['packets']} packets, "
        f"{small_run['peak_rss_mb']:.1f} MB at {args.small} packets (same {small_run['flows']} flows); "
        f"growth {runs[0]['peak_rss_mb'] - small_run['peak_rss_mb']:+.1f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
