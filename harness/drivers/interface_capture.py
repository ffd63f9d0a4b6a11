"""Capture on a named interface of the lab host (the bench LAN), with dumpcap or tcpdump.

Started when the device starts and stopped when it stops, so the capture covers the whole run;
it runs on the lab side (inside the lab LAN's namespace when the lab config names one). The
file is classic pcap, flushed per packet, so suites can read it while it grows.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from harness.capabilities import Capture, LabAddressing
from harness.device.registry import BuildContext, provides
from harness.errors import HarnessSetupError
from harness.util.deadlines import wait_until
from harness.util.processes import stop_process

START_TIMEOUT_S = 10.0
PCAP_HEADER_BYTES = 24


def capture_argv(tool: str, interface: str, path: Path) -> list[str]:
    if tool == "dumpcap":
        # -P: classic pcap; -q: no packet counts on stderr.
        return ["dumpcap", "-q", "-P", "-i", interface, "-w", str(path)]
    # -U: write each packet as it arrives; -s 0: whole packets; -n: no name lookups.
    return ["tcpdump", "-i", interface, "-U", "-s", "0", "-n", "-w", str(path)]


def choose_tool(wanted: str) -> str:
    for tool in ("dumpcap", "tcpdump") if wanted == "auto" else (wanted,):
        if shutil.which(tool):
            return tool
    raise HarnessSetupError(
        f"no packet capture tool: {'dumpcap or tcpdump' if wanted == 'auto' else wanted} is not installed "
        "(Debian packages tshark / tcpdump)"
    )


class InterfaceCapture(Capture):
    def __init__(self, ctx: BuildContext, interface: str, tool: str) -> None:
        self.ctx = ctx
        self.interface = interface
        self.wanted_tool = tool
        self.path = ctx.workdir / "capture" / f"{interface}.pcap"
        self.log_path = ctx.workdir / "capture" / f"{interface}.log"
        self.description = f"capture on interface {interface}"
        self._process: subprocess.Popen[bytes] | None = None
        self._started: float | None = None

    def start(self) -> None:
        tool = choose_tool(self.wanted_tool)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        addressing = self.ctx.shared.get(LabAddressing)
        argv = capture_argv(tool, self.interface, self.path)
        if addressing is not None:
            argv = addressing.side.command(argv)
        log = self.log_path.open("wb")
        self._started = time.time()  # the file is written anew from here
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.description = f"{tool} on interface {self.interface}"
        process = self._process

        def capturing() -> bool:
            if process.poll() is not None:
                raise HarnessSetupError(
                    f"{tool} on {self.interface} exited: {self.log_path.read_text(errors='replace')[-500:]}"
                )
            return self.path.exists() and self.path.stat().st_size >= PCAP_HEADER_BYTES

        if wait_until(capturing, START_TIMEOUT_S, 0.05):
            return
        self.stop()
        raise HarnessSetupError(f"{tool} on {self.interface} wrote no capture within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process(process)

    def files(self) -> list[Path]:
        return [self.path] if self.path.exists() else []

    @property
    def current(self) -> Path | None:
        return self.path

    @property
    def started(self) -> float | None:
        return self._started if self._process is not None else None


@provides(Capture, order=50)
def _interface_capture(ctx: BuildContext) -> InterfaceCapture | None:
    capture = ctx.lab.capture
    if capture.method != "interface":
        return None
    return InterfaceCapture(ctx, str(capture.interface), str(capture.tool))
