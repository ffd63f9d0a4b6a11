"""The bench path piece by piece: serial by path, RFC 2217 and raw TCP through a real ser2net,
power by command, capture on an interface, lab servers on the configured ports, and a device
brought to a shell from each state a bench leaves it in.

The QEMU-backed tests use the bench twin (tests/support/bench_twin.py): the reference image as a
board the harness did not start, on a USB-UART stand-in, reached only through a bench profile.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.bench_twin import (
    TWIN_PORTS,
    BenchTwin,
    Ser2net,
    TwinBoard,
    UsbUartStandIn,
    reference_board,
    reference_profile_data,
)

from harness.capabilities import LabAddressing
from harness.config.lab import LAB_PORTS, PowerCommands
from harness.config.loader import load_lab_config, load_profile
from harness.device import Device
from harness.device import strategy as strategy_module
from harness.device.registry import BuildContext
from harness.drivers.command_power import CommandPower
from harness.drivers.interface_capture import InterfaceCapture
from harness.errors import DeviceError, HarnessSetupError
from harness.lab.network import LabNetwork, namespace_mode_available
from harness.lab.services.base import LabEndpoints
from harness.lab.services.registry import start_services, stop_services
from harness.lab.side import LabSide
from harness.transports.console import Console, LoginSettings
from harness.transports.serial import SerialStream, with_rfc2217_defaults

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = "/bin/busybox"
needs_namespaces = pytest.mark.skipif(
    not namespace_mode_available()[0], reason="needs root, iproute2 and /dev/net/tun"
)


# --- serial: a plain path, rfc2217://, socket:// ----------------------------------------------


def test_rfc2217_urls_get_the_options_the_harness_needs() -> None:
    assert with_rfc2217_defaults("rfc2217://h:1") == "rfc2217://h:1?ign_set_control"
    assert with_rfc2217_defaults("rfc2217://h:1?timeout=3") == "rfc2217://h:1?timeout=3&ign_set_control"
    assert with_rfc2217_defaults("rfc2217://h:1?ign_set_control") == "rfc2217://h:1?ign_set_control"
    assert with_rfc2217_defaults("socket://h:1") == "socket://h:1"
    assert with_rfc2217_defaults("/dev/ttyUSB0") == "/dev/ttyUSB0"


def _read_until(fd_or_stream, wanted: bytes, timeout: float = 5.0) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        seen += fd_or_stream.read(4096, 0.2) if hasattr(fd_or_stream, "read") else b""
    return seen


def test_the_usb_uart_stand_in_stays_while_the_board_side_is_closed() -> None:
    """Like a USB adapter whose board lost power: the lab side stays open and usable."""
    uart = UsbUartStandIn()
    try:
        lab = SerialStream(uart.lab_path)  # a plain device path, as /dev/ttyUSB0 would be
        board = os.open(uart.board_path, os.O_RDWR | os.O_NOCTTY)  # what QEMU's -serial opens
        os.write(board, b"hello from the board\n")
        assert b"hello from the board" in _read_until(lab, b"board\n")
        lab.write(b"hello board\n")
        time.sleep(0.3)
        assert os.read(board, 100) == b"hello board\n"
        os.close(board)  # the board is switched off
        lab.write(b"nobody listens\n")
        assert lab.read(100, 0.3) == b""
        board = os.open(uart.board_path, os.O_RDWR | os.O_NOCTTY)  # and on again
        os.write(board, b"back\n")
        assert b"back" in _read_until(lab, b"back\n")
        os.close(board)
        lab.close()
    finally:
        uart.close()


class BoardShell:
    """A real busybox shell on the board side of the stand-in: a board that is already up."""

    def __init__(self, uart: UsbUartStandIn) -> None:
        slave = os.open(uart.board_path, os.O_RDWR | os.O_NOCTTY)
        self.process = subprocess.Popen(
            [BUSYBOX, "setsid", "-c", BUSYBOX, "sh", "-i"],
            stdin=slave, stdout=slave, stderr=slave, env={"PS1": "# ", "PATH": "/bin:/usr/bin", "TERM": "vt100"},
        )  # fmt: skip
        os.close(slave)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["rfc2217", "socket"])
def test_a_console_through_a_real_ser2net(tmp_path: Path, kind: str) -> None:
    """ser2net exports the adapter's pty; the harness's serial console runs commands through it."""
    uart = UsbUartStandIn()
    board = BoardShell(uart)
    server = Ser2net(uart.lab_path, tmp_path, rfc2217=kind == "rfc2217")
    try:
        assert server.url.startswith(f"{kind}://127.0.0.1:")
        with Console(SerialStream(server.url), name=kind, default_timeout=10) as console:
            console.login(LoginSettings(username="root", password=""), timeout=10)
            assert console.run("echo through ser2net").output == "through ser2net"
            assert console.run("(exit 3)").status == 3
    finally:
        server.stop()
        board.stop()
        uart.close()


# --- power by command -------------------------------------------------------------------------


def _power(tmp_path: Path, **commands: object) -> CommandPower:
    return CommandPower(PowerCommands(**{"off_seconds": 0, "timeout_s": 5, **commands}))


def test_power_commands_run_in_order_and_wait_out_the_off_time(tmp_path: Path) -> None:
    log = tmp_path / "outlet.log"
    power = _power(tmp_path, on=f"echo on >> {log}", off=f"echo off >> {log}", off_seconds=0.5)
    power.off()
    started = time.monotonic()
    power.on()
    assert time.monotonic() - started >= 0.45  # stayed off long enough to really lose power
    power.cycle()  # no cycle command: off, wait, on
    assert log.read_text().split() == ["off", "on", "off", "on"]
    assert [what for _, what, _ in power.history] == ["off", "on", "off", "on"]
    assert power.is_on() is None  # a command switches; only the console tells whether it runs
    cycle = _power(tmp_path, on="true", off="true", cycle=f"echo cycle >> {log}")
    cycle.cycle()
    assert log.read_text().split()[-1] == "cycle"


def test_a_hung_power_command_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    power = _power(tmp_path, on=f"sh -c 'echo $$ > {pid_file}; exec sleep 60'", off="true", timeout_s=1)
    started = time.monotonic()
    with pytest.raises(HarnessSetupError, match="did not finish within 1 s"):
        power.on()
    assert time.monotonic() - started < 10
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "the hung command's child was left running"


def test_a_failing_power_command_says_what_it_printed(tmp_path: Path) -> None:
    power = _power(tmp_path, on="echo outlet 3 is locked >&2; exit 4", off="true")
    with pytest.raises(HarnessSetupError, match="status 4: outlet 3 is locked"):
        power.on()


# --- capture on an interface, lab servers on the configured ports ----------------------------


@pytest.fixture
def lan() -> Iterator[LabNetwork]:
    """A lab LAN like the twin's: a bridge in a namespace, lab .2, the device's address .15."""
    network = LabNetwork("192.0.2.0/24", name=f"twin-test-{os.getpid()}")
    network.create()
    yield network
    network.destroy()


@pytest.mark.integration
@needs_namespaces
@pytest.mark.parametrize("tool", ["dumpcap", "tcpdump"])
def test_interface_capture_records_the_bench_lan(tmp_path: Path, lan: LabNetwork, tool: str) -> None:
    from harness.drivers.bench_network import BenchAddressing

    addressing = BenchAddressing(lan.device_address, lan.lab_address, lan.lab_address, lan.name)
    ctx = BuildContext(profile=None, lab=None, workdir=tmp_path)
    ctx.shared[LabAddressing] = addressing  # the capture runs on the lab side of this LAN
    # A board's cable in the tap (the bridge gets carrier) and its MAC known (no board answers ARP).
    subprocess.run(["ip", "-n", lan.name, "neigh", "replace", lan.device_address, "lladdr",
                    "52:54:00:12:34:56", "dev", lan.bridge, "nud", "permanent"], check=True, timeout=10)  # fmt: skip
    with lan.side.entered():
        cable = _plug_into_tap(lan.tap)
    capture = InterfaceCapture(ctx, lan.bridge, tool)
    capture.start()
    try:
        time.sleep(0.5)  # the bridge port forwards (forward_delay 0) once it has carrier
        assert tool in capture.description
        with lan.side.entered():
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sender:
            sender.bind((lan.lab_address, 0))
            for _ in range(5):
                sender.sendto(b"telemetry reading 42", (lan.device_address, 5683))
                time.sleep(0.05)
        time.sleep(1.0)
    finally:
        capture.stop()
        os.close(cable)
    from harness.analysis.capture import classify_flows

    flows = classify_flows(capture.files()[0])
    sent = [f for f in flows if f.server == (lan.device_address, 5683) and f.client[0] == lan.lab_address]
    assert sent and sent[0].packets == 5 and sent[0].kind == "plaintext", flows


def _plug_into_tap(name: str) -> int:
    """Open the tap as QEMU does (TUNSETIFF): the file descriptor is the board's end of the cable."""
    import fcntl
    import struct

    tunsetiff, iff_tap, iff_no_pi = 0x400454CA, 0x0002, 0x1000
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, tunsetiff, struct.pack("16sH", name.encode(), iff_tap | iff_no_pi))
    return fd


@pytest.mark.integration
@needs_namespaces
def test_lab_services_listen_on_the_configured_ports(tmp_path: Path, lan: LabNetwork) -> None:
    """Each lab server binds the lab config's port, and announces exactly what the twin pins."""
    from harness.lab.certificates import ensure_lab_certificate

    twin = BenchTwin("ports", tmp_path / "twin", TwinBoard(kernel=Path("/dev/null")))
    twin.network = lan
    twin.key, twin.certificate = ensure_lab_certificate(tmp_path / "tls")
    profile = load_profile(_write_yaml(tmp_path / "p.yaml", {**reference_profile_data("hardened"),
                                                              "console": {"serial": {"url": "/dev/null"}}}))  # fmt: skip
    endpoints = LabEndpoints(
        bind_address=lan.lab_address, device_facing_address=lan.lab_address, side=LabSide(lan.name),
        ports=TWIN_PORTS, tls_certificate=twin.certificate, tls_key=twin.key,
    )  # fmt: skip
    services = start_services(profile, tmp_path / "lab", endpoints)
    try:
        listening = _listening_in(lan.name)
        for name, port in TWIN_PORTS.items():
            assert (LAB_PORTS[name], lan.lab_address, port) in listening, (name, sorted(listening))
        announced = sorted(word for service in services.values() for word in service.boot_arguments())
        pinned = sorted(word for word in twin.boot_words() if not word.startswith("hilsec.ip="))
        assert announced == pinned  # the twin board is configured exactly as the lab announces
    finally:
        stop_services(services)


def _write_yaml(path: Path, data: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data))
    return path


def _listening_in(namespace: str) -> set[tuple[str, str, int]]:
    """(transport, address, port) of every listening socket in the namespace, from `ss`."""
    out = subprocess.run(
        ["ip", "netns", "exec", namespace, "ss", "-Hlnut"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        address, _, port = fields[4].rpartition(":")
        found.add((fields[0], address.strip("[]"), int(port)))
    return found


# --- each console state, on the real reference image through the bench path -------------------


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchTwin]:
    """The hardened twin with a talkative kernel (no `quiet`), so a boot in progress prints."""
    board = reference_board("hardened")
    board.append = board.append.replace("quiet", "").strip()
    bench = BenchTwin("twin-states", tmp_path_factory.mktemp("twin-states"), board,
                      profile_base=reference_profile_data("hardened"))  # fmt: skip
    with bench:
        yield bench


def _device(twin: BenchTwin, tmp_path: Path, *, power: bool, profile: Path | None = None) -> Device:
    tmp_path.mkdir(parents=True, exist_ok=True)
    lab = twin.write_lab_config(tmp_path / f"lab-power-{power}.yaml", power=power)
    return Device(load_profile(profile or twin.profile_path), load_lab_config(lab), workdir=tmp_path / "lab")


def _wait_on_console(twin: BenchTwin, wanted: bytes, timeout: float = 120.0) -> bytes:
    """Read the raw serial until `wanted` shows (what a person at the bench would watch for)."""
    seen, deadline = b"", time.monotonic() + timeout
    with twin.raw_console() as port:
        while wanted not in seen[-200:] and time.monotonic() < deadline:
            seen += port.read(4096)
    assert wanted in seen, seen[-300:]
    return seen


def _shows_a_shell(twin: BenchTwin) -> bool:
    with twin.raw_console() as port:
        port.write(b"\n")
        seen, deadline = b"", time.monotonic() + 10
        while b"# " not in seen and time.monotonic() < deadline:
            seen += port.read(4096)
    return b"# " in seen


@pytest.mark.integration
def test_from_a_login_prompt_and_from_an_open_shell(twin: BenchTwin, tmp_path: Path) -> None:
    """No power control needed: the strategy logs in, and logs out of a shell somebody left open."""
    twin.power_on()
    try:
        _wait_on_console(twin, b"login: ")
        pid = twin.board_pid
        for state in ("login prompt", "open shell"):  # the first device leaves its shell open
            if state == "open shell":
                assert _shows_a_shell(twin)
            device = _device(twin, tmp_path / state.replace(" ", "-"), power=False)
            device.start()
            try:
                assert device.strategy.state.value == "login prompt", state
                assert device.run("echo hello from the twin").output == "hello from the twin"
                assert device.recoveries == [], (state, device.recoveries)
            finally:
                device.stop()  # no power control: the board stays on, logged in
            assert twin.board_pid == pid, f"{state}: the board was restarted"
    finally:
        twin.power_off()


@pytest.mark.integration
def test_from_a_board_that_is_booting(
    twin: BenchTwin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A boot log but no prompt yet: the strategy waits for the boot, it does not give up."""
    # A first look shorter than any boot, so the board is still booting when it ends, however
    # fast or slow this host boots it (with the default 8 s a fast boot reached its prompt first).
    monkeypatch.setattr(strategy_module, "LOOK_TIMEOUT_S", 1.0)
    twin.power_on()
    try:
        pid = twin.board_pid
        device = _device(twin, tmp_path, power=False)
        lines: list[str] = []
        device.progress = lines.append
        device.strategy.progress = lines.append
        device.start()
        try:
            assert device.run("cat /proc/uptime").status == 0
            assert any("waiting" in line for line in lines), lines
            assert device.recoveries == []
        finally:
            device.stop()
        assert twin.board_pid == pid
    finally:
        twin.power_off()


@pytest.mark.integration
def test_a_hung_board_is_power_cycled(twin: BenchTwin, tmp_path: Path) -> None:
    """Silence with power control: the lab's power commands bring the board back."""
    twin.power_on()
    _wait_on_console(twin, b"login: ")
    hung = twin.board_pid
    os.kill(hung, signal.SIGSTOP)  # the board hangs: alive, silent
    device = _device(twin, tmp_path, power=True)
    device.start()
    try:
        assert device.run("echo back").output == "back"
        assert twin.board_pid not in (None, hung)
        assert any("power-cycled" in r.what for r in device.recoveries), device.recoveries
    finally:
        device.stop()  # with power control: switched off
    assert twin.board_pid is None


@pytest.mark.integration
def test_silence_without_power_control_is_inconclusive_naming_it(twin: BenchTwin, tmp_path: Path) -> None:
    """The board is off and the bench cannot switch it on: every test INCONCLUSIVE, saying why."""
    twin.power_off()
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_one.py").write_text(
        textwrap.dedent("""
        import pytest

        @pytest.mark.requirement("FS38-06")
        def test_needs_a_shell(device):
            device.run("true")
    """)
    )
    lab = twin.write_lab_config(
        tmp_path / "lab.yaml", power=False, edit=lambda d: d["timeouts"].update(login_s=5, command_s=5)
    )
    report = tmp_path / "report"
    cmd = [
        sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider", "--device-profile",
        str(twin.profile_path), "--lab-config", str(lab), "--report-dir", str(report),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    results = report / "results.json"
    assert results.is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    test = json.loads(results.read_text())["tests"][0]
    assert test["verdict"] == "INCONCLUSIVE", test
    assert "lab config: power" in test["reason"], test


@pytest.mark.integration
def test_from_a_bootloader_prompt(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A board stopped at its bootloader (real SYSLINUX from a disk): the strategy boots it."""
    from support.disk_image import BOOT_LABEL, BOOT_PROMPT, busybox_initrd, reference_bzimage, syslinux_disk

    from harness.emulation import build_image

    work = tmp_path_factory.mktemp("twin-bootloader")
    image = build_image("hardened")
    kernel = reference_bzimage(image.root, image.root.parent, work)
    disk = syslinux_disk(work / "disk.img", kernel, busybox_initrd("Disk-board-pw-7"))

    def edit(profile: dict) -> None:
        profile["login"]["password"] = "Disk-board-pw-7"
        profile["bootloader"] = {"prompt": BOOT_PROMPT, "boot_command": BOOT_LABEL}

    with BenchTwin("twin-bootloader", work / "bench", TwinBoard(disk=disk), edit_profile=edit,
                   profile_base=reference_profile_data("hardened")) as bench:  # fmt: skip
        bench.power_on()
        _wait_on_console(bench, b"boot: ")
        device = _device(bench, work, power=False)
        device.start()
        try:
            assert "BOOT_IMAGE=vmlinuz" in device.run("cat /proc/cmdline").output
            assert any("bootloader prompt" in r.what for r in device.recoveries), device.recoveries
        finally:
            device.stop()
            bench.power_off()


def test_device_error_for_a_console_nobody_answers_is_one_line(tmp_path: Path) -> None:
    """A serial path that does not exist is a DeviceError naming it, not a traceback."""
    with pytest.raises(DeviceError, match="/dev/hilsec-no-such-adapter"):
        SerialStream("/dev/hilsec-no-such-adapter")
