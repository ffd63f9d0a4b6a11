"""The device under test: its capabilities, the strategy that drives it, the lab services it uses.

Suites talk to a `Device`, never to QEMU or a serial port: they ask for a capability
(`device.require(Capture)`) or use the console through the strategy (`device.run(...)`), so the
same suite runs against a board on a bench and against an emulated reference image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from harness.capabilities import Capture, ConsolePort, LabAddressing, MissingCapability, Power
from harness.device.factory import CAPABILITIES, build_capabilities
from harness.device.life import DeviceLife
from harness.device.registry import BuildContext
from harness.device.strategy import DeviceState, Recovery, Strategy
from harness.errors import DeviceError, HarnessSetupError
from harness.lab.services.base import LabEndpoints, LabService
from harness.lab.services.registry import lab_secrets, start_services, stop_services
from harness.lab.side import LabSide
from harness.results.evidence import Evidence
from harness.transports.console import CommandResult, Console, LoginSettings

T = TypeVar("T")
LOGIN_PORTS = {"telnet": 23, "ssh": 22, "ftp": 21}


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
        self.lab_services: dict[str, LabService] = {}
        self._evidence: Evidence | None = None
        self._started: list[object] = []
        self._running = False
        self.context = BuildContext(profile, lab, workdir, self.progress, boot_words=self._boot_words)
        self.context.shared.setdefault("device-ref", {})["device"] = self
        self.capabilities = build_capabilities(self.context)
        console_port = self.capabilities.get(ConsolePort)
        if console_port is None:
            raise MissingCapability(ConsolePort, "reach the device")
        login = profile.login
        lockout = login.lockout_seconds if login.lockout_seconds is not None else lab.timeouts.lockout_s
        bootloader = profile.bootloader
        self.strategy = Strategy(
            name=self.name,
            console_port=console_port,
            power=self.capabilities.get(Power),
            login=self.login_settings,
            bootloader_prompt=bootloader.prompt if bootloader is not None else None,
            boot_command=bootloader.boot_command if bootloader is not None else "boot",
            secrets=self.secrets,
            boot_timeout=float(lab.qemu.boot_timeout_s)
            if profile.console.qemu
            else float(lab.timeouts.login_s),
            login_timeout=self.login_timeout,
            command_timeout=self.command_timeout,
            lockout_s=float(lockout),
            on_console=self._console_opened,
            progress=self.progress,
        )

    # --- capabilities ------------------------------------------------------------------------

    def get(self, capability: type[T]) -> T | None:
        """The driver that provides `capability` on this bench, or None."""
        return self.capabilities.get(capability)  # type: ignore[return-value]

    def require(self, capability: type[T], purpose: str = "") -> T:
        """The driver that provides `capability`; MissingCapability (INCONCLUSIVE, naming the
        config key that would provide it) when the bench has none."""
        driver = self.get(capability)
        if driver is None:
            raise MissingCapability(capability, purpose)
        return driver

    # --- identity and settings ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.profile.name)

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
        return [*self.profile.secrets(), *lab_secrets()]

    @property
    def command_timeout(self) -> float:
        return float(self.lab.timeouts.command_s)

    @property
    def boot_timeout(self) -> float:
        """How long the device may take from power-on to its login prompt."""
        return self.strategy.boot_timeout

    @property
    def login_timeout(self) -> float:
        return float(self.lab.timeouts.login_s)

    def identity(self) -> dict[str, Any]:
        """What the report says about the device and how it was reached."""
        info: dict[str, Any] = {
            "capabilities": {
                getattr(cap, "NAME", cap.__name__): getattr(driver, "description", type(driver).__name__)
                for cap, driver in self.capabilities.items()
            }
        }
        if self.strategy.boot_seconds is not None:
            info["boot_seconds"] = round(self.strategy.boot_seconds, 2)
        for driver in self.capabilities.values():
            extra = getattr(driver, "identity", None)
            if callable(extra):
                info.update(extra())
        if self.strategy.recoveries:
            info["recoveries"] = [{"time": r.when, "what": r.what} for r in self.strategy.recoveries]
        return info

    # --- life cycle --------------------------------------------------------------------------

    def start(self, *, to_login: bool = True) -> None:
        """Start the drivers and the lab's services, then bring the device to its login prompt.

        `to_login=False` leaves the device as it is (a test that drives it from power-on, such as
        the bootloader watch, needs no operating system behind the bootloader). Safe to call again:
        the drivers and services start once.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._running:
            if to_login:
                self.strategy.to_login()
            return
        try:
            for capability in CAPABILITIES:
                driver = self.capabilities.get(capability)
                start = getattr(driver, "start", None)
                if callable(start):
                    start()
                    self._started.append(driver)
            addressing = self.get(LabAddressing)
            if addressing is not None:
                self.lab_services = start_services(self.profile, self.workdir, self._endpoints(addressing))
            self._running = True
            if to_login:
                self.strategy.to_login()
        except BaseException:
            self.stop()
            raise

    def _endpoints(self, addressing: LabAddressing) -> LabEndpoints:
        servers = self.lab.servers
        return LabEndpoints(
            bind_address=addressing.bind_address,
            device_facing_address=addressing.device_facing_address,
            side=addressing.side,
            ports=servers.ports(),
            tls_certificate=servers.tls_certificate,
            tls_key=servers.tls_key,
        )

    def _boot_words(self) -> list[str]:
        return [word for service in self.lab_services.values() for word in service.boot_arguments()]

    def stop(self) -> None:
        """Power the device off (when the bench can), stop the lab services and drivers; safe twice."""
        self.strategy.detach()
        power = self.get(Power)
        if power is not None:
            try:
                power.off()
            except (HarnessSetupError, DeviceError):
                pass
        stop_services(self.lab_services)
        for driver in reversed(self._started):
            stop = getattr(driver, "stop", None)
            if callable(stop):
                try:
                    stop()
                except (HarnessSetupError, DeviceError, OSError):
                    pass
        self._started.clear()
        self._running = False

    def power_cycle(self) -> None:
        """Cut and restore power, then wait for the login prompt again."""
        self.strategy.power_cycle("asked by a test")

    # --- per test ----------------------------------------------------------------------------

    def begin_test(self, evidence: Evidence, *, bring_up: bool = True) -> None:
        """Route the console transcript to this test's evidence; bring a lost device back first
        (unless `bring_up` is False: the test drives the device from power-on itself)."""
        self._evidence = evidence
        if self.strategy.console is not None:
            self.strategy.console.start_transcript(evidence.path("console.log"))
        if bring_up:
            self.strategy.ensure_alive()

    def end_test(self, lost: bool = False) -> None:
        """After a test; `lost`: it ended on a device error, so look at the device before the next."""
        if self.strategy.console is not None:
            self.strategy.console.stop_transcript()
        if lost:
            self.strategy.forget()
        self._evidence = None

    def _console_opened(self, console: Console) -> None:
        if self._evidence is not None:
            console.start_transcript(self._evidence.path("console.log"))

    # --- console -----------------------------------------------------------------------------

    @property
    def console(self) -> Console:
        """The console as it is now (opened if needed); use shell() for a logged-in one."""
        return self.strategy.attach()

    def shell(self) -> Console:
        """The console, logged in with the lab's credentials."""
        return self.strategy.to_shell()

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        """Run a shell command on the device's console and return its output and exit status."""
        try:
            return self.shell().run(command, timeout=timeout or self.command_timeout)
        except DeviceError:
            self.strategy.forget()
            raise

    def logout(self) -> Console:
        """Leave the shell so the console shows a login prompt again (that console is returned)."""
        return self.strategy.to_login()

    @property
    def life(self) -> DeviceLife:
        """When the device last came up and was last disturbed (harness.device.observation waits on it)."""
        return self.strategy.life

    @property
    def recoveries(self) -> list[Recovery]:
        """What the strategy did so far to get the device back (waited out a lockout, power-cycled)."""
        return list(self.strategy.recoveries)

    def mark_logged_in(self) -> None:
        """A test logged in on the console itself (e.g. with a credential it tried)."""
        self.strategy.state = DeviceState.SHELL

    def console_touched(self) -> None:
        """A test typed on the console (keys, odd user names): look at it again before trusting
        the state the strategy last saw."""
        self.strategy.forget()

    def console_at_login(self) -> None:
        """A test typed on the console and then saw (and consumed) a settled login prompt: the
        next logout() starts there instead of probing the console with a newline."""
        console = self.strategy.attach()
        console.note_login_prompt()
        self.strategy.state = DeviceState.LOGIN

    def watch_from_power_on(self) -> Console:
        """The console from power-on, for tests of what the bootloader lets a person do."""
        return self.strategy.watch_from_power_on()

    # --- network -----------------------------------------------------------------------------

    @property
    def network(self) -> LabAddressing:
        return self.require(LabAddressing, "reach the device over the network")

    @property
    def address(self) -> str:
        """The device's own IP address, as it appears in captures."""
        return self.network.device_address

    @property
    def lab_address(self) -> str:
        """The address the device uses to reach the lab's servers."""
        return self.network.device_facing_address

    def endpoint(self, protocol: str, port: int) -> tuple[str, int]:
        """Where the lab connects to reach the device's `port`."""
        return self.network.endpoint(protocol, port)

    @contextmanager
    def lab_side(self) -> Iterator[LabSide]:
        """A block whose sockets and processes are on the lab side of the device's network."""
        with self.network.lab_side() as side:
            yield side

    def lab_service_endpoints(self) -> dict[tuple[str, int], str]:
        """(host, port) -> name of each endpoint where a lab service serves this device (from the
        whereabouts each service hands the device), for telling the lab's own traffic apart."""
        endpoints: dict[tuple[str, int], str] = {}
        for word in self._boot_words():
            name, _, value = word.partition("=")
            host, _, port = value.rpartition(":")
            if host and port.isdigit():
                endpoints[(host, int(port))] = name
        return endpoints

    def login_port(self, kind: str) -> tuple[int, bool]:
        """The device port of a login service kind, and whether the profile declares it."""
        for service in self.profile.network.services:
            if service.login == kind:
                return int(service.port), True
        return LOGIN_PORTS[kind], False

    @property
    def capture_path(self) -> Path | None:
        """The capture file being written now, where the bench takes one."""
        capture = self.get(Capture)
        return capture.current if capture is not None else None
