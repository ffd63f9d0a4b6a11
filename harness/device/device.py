"""The device under test: console, network endpoints, capture and power, as the profile declares.

Tests talk to a `Device`, never to QEMU or a serial port directly, so the same suite runs against a
board on a bench and against an emulated reference image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import DeviceError, HarnessSetupError
from harness.lab.network import LabNetwork, choose_network_mode
from harness.lab.services.registry import LAB_SERVICE_FACTORIES, USER_MODE_ENDPOINTS, LabEndpoints, LabService
from harness.results.evidence import Evidence
from harness.transports.console import CommandResult, Console, LoginSettings
from harness.transports.stream import ByteStream, open_stream

QEMU_GUEST_ADDRESS = "10.0.2.15"
_LOGIN_PORTS = {"telnet": 23, "ssh": 22}


def secret_value(value: Any) -> str:
    """A password field as plain text, whether the model keeps it as str or SecretStr."""
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else str(value)


class Device:
    """One device under test for one session."""

    def __init__(
        self,
        profile: Any,
        lab: Any,
        *,
        workdir: Path,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.profile = profile
        self.lab = lab
        self.workdir = workdir
        self.progress = progress or (lambda line: None)
        self.machine: Any = None
        self.console: Console | None = None
        self.lab_services: dict[str, LabService] = {}
        self._evidence: Evidence | None = None
        self._logged_in = False
        self.boot_seconds: float | None = None
        self.reference_image: Any = None  # the ReferenceImage booted, when the profile names one
        self.lab_network: LabNetwork | None = None  # set while an emulated device is on a lab namespace
        self.network_mode_reason = ""
        self._chosen_network_mode: str | None = None  # kept after stop() for the report
        self._lab_network_setup_s: float | None = None

    # --- identity and settings ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.profile.name)

    @property
    def is_emulated(self) -> bool:
        return self.profile.console.qemu is not None

    @property
    def login_settings(self) -> LoginSettings:
        login = self.profile.login
        return LoginSettings(
            username=login.username,
            password=secret_value(login.password),
            login_prompt=login.login_prompt,
            password_prompt=login.password_prompt,
            shell_prompt=login.shell_prompt,
            failure_pattern=login.failure_pattern,
        )

    @property
    def secrets(self) -> list[str]:
        return list(self.profile.secrets())

    @property
    def command_timeout(self) -> float:
        return float(self.lab.timeouts.command_s)

    @property
    def login_timeout(self) -> float:
        return float(self.lab.timeouts.login_s)

    @property
    def network_mode(self) -> str:
        """ "namespace" (a lab network the harness sees all of), "user" (QEMU user mode) or "bench"."""
        if not self.is_emulated:
            return "bench"
        if self._chosen_network_mode is not None:
            return self._chosen_network_mode
        return "namespace" if self.lab_network is not None else "user"

    @property
    def lab_sees_whole_network(self) -> tuple[bool, str]:
        """Whether lab-side tools reach every port of the device, and why not when they cannot."""
        if self.network_mode == "user":
            reason = self.network_mode_reason or "QEMU user-mode networking"
            return False, (
                f"the emulated device is on QEMU user-mode networking ({reason}): the lab reaches only "
                "forwarded ports through NAT, so it cannot scan the device's address"
            )
        return True, ""

    @property
    def address(self) -> str:
        """The device's own IP address, as it appears in captures."""
        if self.lab_network is not None:
            return self.lab_network.device_address
        if self.is_emulated:
            return QEMU_GUEST_ADDRESS
        address = self.profile.network.address
        if not address:
            raise DeviceError("the profile gives no network.address for this device")
        return str(address)

    @property
    def lab_endpoints(self) -> LabEndpoints:
        """Where lab servers listen and the address the device uses to reach them."""
        if self.lab_network is not None:
            lab_address = self.lab_network.lab_address
            return LabEndpoints(bind_address=lab_address, device_facing_address=lab_address)
        if self.is_emulated:
            return USER_MODE_ENDPOINTS
        servers = self.lab.servers
        return LabEndpoints(
            bind_address=str(getattr(servers, "bind_address", None) or "0.0.0.0"),
            device_facing_address=str(getattr(servers, "device_facing_address", None) or ""),
        )

    @property
    def lab_address(self) -> str:
        """The address the device uses to reach the lab's servers."""
        return self.lab_endpoints.device_facing_address

    @property
    def capture_path(self) -> Path | None:
        """The capture of every packet the device sent or received, where the lab takes one."""
        if self.machine is not None:
            return self.machine.pcap_path
        return None

    def identity(self) -> dict[str, Any]:
        info: dict[str, Any] = {"emulated": self.is_emulated}
        if self.boot_seconds is not None:
            info["boot_seconds"] = round(self.boot_seconds, 2)
        if self.machine is not None:
            info["qemu_accel"] = self.machine.accel_used
        if self.is_emulated:
            info["network_mode"] = self.network_mode
        if self._lab_network_setup_s is not None:
            info["lab_network_setup_seconds"] = round(self._lab_network_setup_s, 3)
        return info

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the lab's peers, power the device on and wait for its login prompt."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.is_emulated:
            # The image is built (packages downloaded) before the lab network, which has no uplink.
            boot_files = self._qemu_boot_files()
            self._start_lab_network()
        self._start_lab_services()
        if self.is_emulated:
            self._start_emulated(*boot_files)
        else:
            self._attach_console(open_stream(self._console_url()))
            self._wait_for_login_prompt(self.login_timeout)

    def _console_url(self) -> str:
        console = self.profile.console
        if console.serial is not None:
            url = str(console.serial.url)
            baud = getattr(console.serial, "baudrate", None)
            return f"{url}?baudrate={baud}" if baud and "://" not in url and "?" not in url else url
        if console.telnet is not None:
            return f"telnet://{console.telnet.host}:{console.telnet.port}"
        raise DeviceError("the profile declares no console this harness can reach")

    def _start_emulated(self, kernel: Path, initrd: Path, append: str) -> None:
        from harness.drivers.qemu import QemuMachine

        boot_words = [word for service in self.lab_services.values() for word in service.boot_arguments()]
        if self.lab_network is not None:
            boot_words += self.lab_network.addressing.device_boot_arguments()
        append = " ".join([append, *boot_words]).strip()
        forwards = sorted({("tcp", port) for port in _LOGIN_PORTS.values()} | self._declared_ports())
        network = self.lab_network
        self.machine = QemuMachine(
            kernel=kernel,
            initrd=initrd,
            append=append,
            workdir=self.workdir / "qemu",
            memory_mb=int(self.lab.qemu.memory_mb),
            accel=str(self.lab.qemu.accel),
            forwards=() if network else forwards,
            capture=True,
            tap=network.tap if network else None,
            netns=network.name if network else None,
        )
        self._boot()

    def _start_lab_network(self) -> None:
        """Build the lab namespace and move this thread into it, so tests act from the lab side.

        From here on every socket the session's thread opens and every process it starts (QEMU,
        lab services, ssh, scanners) is on the lab LAN next to the device; stop() moves it back.
        """
        settings = getattr(self.lab, "network", None)
        requested = str(getattr(settings, "mode", "auto"))
        mode, self.network_mode_reason = choose_network_mode(requested)
        self._chosen_network_mode = mode
        if mode != "namespace":
            self.progress(f"lab network: {self.network_mode_reason}")
            return
        network = LabNetwork(subnet=str(getattr(settings, "subnet", "10.0.2.0/24")))
        network.create()
        self.lab_network = network
        self._lab_network_setup_s = network.setup_seconds
        network.enter()
        self.progress(
            f"lab network: namespace {network.name}, lab {network.lab_address}, device "
            f"{network.device_address} ({network.setup_seconds:.2f} s to set up)"
        )

    def _stop_lab_network(self) -> None:
        network, self.lab_network = self.lab_network, None
        if network is not None:
            network.leave()
            network.destroy()

    def _qemu_boot_files(self) -> tuple[Path, Path, str]:
        qemu = self.profile.console.qemu
        if qemu.reference_image:
            from harness.emulation import image_for_profile

            self.progress(f"reference image '{qemu.reference_image}': building or taking it from the cache")
            image = image_for_profile(self.profile, self.lab, progress=self.progress)
            self.reference_image = image
            return image.kernel, image.initrd, image.append
        if qemu.kernel and qemu.initrd:
            return Path(qemu.kernel), Path(qemu.initrd), str(qemu.append or "console=ttyS0")
        raise DeviceError("profile console.qemu needs reference_image, or kernel and initrd")

    def _declared_ports(self) -> set[tuple[str, int]]:
        return {(s.protocol, int(s.port)) for s in self.profile.network.services if s.protocol == "tcp"}

    def _start_lab_services(self) -> None:
        """Start every lab service before the device boots, so it finds them from its first second."""
        endpoints = self.lab_endpoints
        for factory in LAB_SERVICE_FACTORIES:
            service = factory()
            service.start(self.workdir, endpoints)
            self.lab_services[service.name] = service

    def _boot(self) -> None:
        boot_timeout = float(self.lab.qemu.boot_timeout_s)
        self.progress(f"{self.name}: powering on (QEMU)")
        started = time.monotonic()
        self.machine.power_on()
        self._attach_console(self.machine.serial_stream())
        self._wait_for_login_prompt(boot_timeout)
        self.boot_seconds = time.monotonic() - started
        self.progress(f"{self.name}: login prompt after {self.boot_seconds:.1f} s")

    def _attach_console(self, stream: ByteStream) -> None:
        if self.console is not None:
            self.console.close()
        self.console = Console(
            stream, name=f"{self.name} console", secrets=self.secrets, default_timeout=self.command_timeout
        )
        self._logged_in = False
        if self._evidence is not None:
            self.console.start_transcript(self._evidence.path("console.log"))

    def _wait_for_login_prompt(self, timeout: float) -> None:
        assert self.console is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceError(f"no login prompt on the console within {timeout:.0f} s")
            self.console.sendline("")
            try:
                self.console.expect([self.login_settings.login_prompt], timeout=min(5.0, remaining))
                return
            except DeviceError as err:
                if "closed" in str(err).lower() or self.machine is not None and not self.machine.is_running():
                    raise

    def stop(self) -> None:
        """Power the device off and stop the lab peers; safe to call twice."""
        if self.console is not None:
            self.console.close()
            self.console = None
        if self.machine is not None:
            try:
                self.machine.power_off()
            except HarnessSetupError:
                pass
        for service in self.lab_services.values():
            service.stop()
        self.lab_services.clear()
        self._stop_lab_network()

    def power_cycle(self) -> None:
        """Cut and restore power, then wait for the login prompt again."""
        if self.machine is None:
            raise DeviceError("this device has no power control in the lab config")
        self.machine.power_off()
        self._boot()

    # --- per test ----------------------------------------------------------------------------

    def begin_test(self, evidence: Evidence) -> None:
        """Start this test's console transcript; bring a lost emulated device back first."""
        self._evidence = evidence
        if self.machine is not None and not self.machine.is_running():
            self.progress(f"{self.name}: QEMU is not running (device lost); power-cycling")
            self.power_cycle()
        if self.console is not None:
            self.console.start_transcript(evidence.path("console.log"))

    def end_test(self) -> None:
        if self.console is not None:
            self.console.stop_transcript()
        self._evidence = None

    # --- console -----------------------------------------------------------------------------

    def shell(self) -> Console:
        """The console, logged in with the lab's credentials."""
        if self.console is None:
            raise DeviceError("the device has no console attached")
        if not self._logged_in:
            self.console.login(self.login_settings, timeout=self.login_timeout)
            self._logged_in = True
        return self.console

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        """Run a shell command on the device's console and return its output and exit status."""
        try:
            return self.shell().run(command, timeout=timeout or self.command_timeout)
        except DeviceError:
            self._logged_in = False
            raise

    def logout(self) -> None:
        """Leave the shell so the console shows a login prompt again."""
        if self.console is None:
            raise DeviceError("the device has no console attached")
        if self._logged_in:
            self.console.sendline("exit")
            self._logged_in = False
        self._wait_for_login_prompt(self.login_timeout)

    def mark_logged_in(self) -> None:
        """A test logged in on the console itself (e.g. with the lab's credentials)."""
        self._logged_in = True

    # --- network -----------------------------------------------------------------------------

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        """Where the lab connects to reach the device's `port` (a host forward under QEMU user mode)."""
        if self.lab_network is not None:
            return self.lab_network.device_address, port
        if self.machine is not None:
            return "127.0.0.1", self.machine.host_port(protocol, port)
        return self.address, port

    def login_port(self, kind: str) -> tuple[int, bool]:
        """The device port of a login service kind, and whether the profile declares it."""
        for service in self.profile.network.services:
            if service.login == kind:
                return int(service.port), True
        return _LOGIN_PORTS[kind], False
