"""Evidence slices: the packets of a time window copied into a new classic pcap."""

from __future__ import annotations

from pathlib import Path

from harness.analysis.capture.pcapio import PcapWriter, iter_packets, sniff_format


def write_window(src: Path, dst: Path, start: float, end: float) -> int:
    """Copy the packets of ``src`` whose timestamps fall in [start, end] into ``dst`` (classic
    pcap, the link type of ``src``); return how many were written. A pcapng source with several
    link types keeps the packets of the first link type seen in the window."""
    fmt = sniff_format(Path(src))
    written = 0
    linktype: int | None = fmt.linktype
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as handle:
        writer: PcapWriter | None = None
        if linktype is not None:
            writer = PcapWriter(handle, linktype, nanosecond=fmt.nanosecond)
        for ts, packet_linktype, frame in iter_packets(Path(src)):
            if ts < start or ts > end:
                continue
            if writer is None:
                linktype = packet_linktype
                writer = PcapWriter(handle, linktype, nanosecond=True)
            if packet_linktype != linktype:
                continue
            writer.write(ts, frame)
            written += 1
        if writer is None:
            PcapWriter(handle, 1)
    return written
