"""The strategy: bring the device to the state a test needs, from whatever state it is in.

A bench device may be found booting, at a login prompt, in an open shell somebody left, at a
bootloader prompt, or silent (off, hung). The strategy looks at the console, then acts: logs
in or out, tells a bootloader to boot, lets a booting device finish, or switches the power off
and on when the bench can. A device it cannot bring round (silent, and no power control) is a
DeviceError naming that, so the test is INCONCLUSIVE with the reason; without power control a
silent device is first given the boot timeout, since a board booting quietly looks the same.

Brute-force protection (EN 303 645 5.1-5) must not turn one test's wrong passwords into every
later test's failed login: when the lab's own credentials are refused, the strategy waits out
the lockout (the profile's `login.lockout_seconds`, or the lab's `timeouts.lockout_s`) and then
power-cycles if it can, and records what it did in `recoveries` for the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from harness.capabilities import ConsolePort, MissingCapability, Power
from harness.device.life import DeviceLife
from harness.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from harness.transports.console import Console, LoginSettings
from harness.util.deadlines import Deadline

WAKE_INTERVAL_S = 2.0  # silence this long: send a newline to make the console show its state
LOOK_TIMEOUT_S = 8.0  # how long a look at the console waits for a prompt before calling it silent
LOCKOUT_RETRY_S = 10.0  # between attempts of the lab's own login while a lockout runs out
MAX_MOVES = 6  # steps towards a login prompt (log out, boot, wait, power-cycle) before giving up


class DeviceState(StrEnum):
    UNKNOWN = "unknown"
    OFF = "off"
    SILENT = "silent"
    BOOTING = "booting"  # printing, but no prompt yet (a boot log, a bootloader counting down)
    BOOTLOADER = "bootloader prompt"
    LOGIN = "login prompt"
    SHELL = "shell"


@dataclass(frozen=True)
class Recovery:
    """Something the strategy did to get the device back, for the report."""

    when: float
    what: str


class Strategy:
    """Moves one device between OFF, BOOTLOADER, LOGIN and SHELL with the capabilities it has."""

    def __init__(
        self,
        *,
        name: str,
        console_port: ConsolePort,
        power: Power | None,
        login: LoginSettings,
        bootloader_prompt: str | None,
        boot_command: str,
        secrets: list[str],
        boot_timeout: float,
        login_timeout: float,
        command_timeout: float,
        lockout_s: float,
        on_console: Callable[[Console], None] = lambda console: None,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.name = name
        self.console_port = console_port
        self.power = power
        self.login_settings = login
        self.bootloader_prompt = bootloader_prompt
        self.boot_command = boot_command
        self.secrets = secrets
        self.boot_timeout = boot_timeout
        self.login_timeout = login_timeout
        self.command_timeout = command_timeout
        self.lockout_s = lockout_s
        self.on_console = on_console
        self.progress = progress
        self.state = DeviceState.UNKNOWN
        self.console: Console | None = None
        self.boot_seconds: float | None = None
        self.recoveries: list[Recovery] = []
        self.life = DeviceLife()  # boots and prompts the strategy saw, for observation windows
        self._login_broken: str | None = None  # why the last recovery failed: later tests fail fast
        self._given_up_on_silence = False  # a silent device without power already got its boot wait

    # --- the console ---------------------------------------------------------------------------

    def attach(self, retry_for: float = 0.0) -> Console:
        """The console, opened now if it is not (a USB port may take a moment to reappear)."""
        if self.console is not None:
            return self.console
        deadline = Deadline.after(retry_for)
        while True:
            try:
                stream = self.console_port.open()
                break
            except DeviceError:
                if deadline.expired:
                    raise
                time.sleep(0.5)
        self.console = Console(
            stream, name=f"{self.name} console", secrets=self.secrets, default_timeout=self.command_timeout
        )
        self.on_console(self.console)
        return self.console

    def detach(self) -> None:
        console, self.console = self.console, None
        if console is not None:
            console.close()

    def forget(self) -> None:
        """The device's state is unknown (a test lost it, a fault): look again before using it."""
        self.state = DeviceState.UNKNOWN

    # --- looking -------------------------------------------------------------------------------

    def look(self, timeout: float | None = None, *, wake: bool = True) -> DeviceState:
        """What the console shows now: a login prompt, a shell, a bootloader, or silence.

        `wake=False` listens first (after `exit` the login prompt comes by itself, and a newline
        would only make it print twice); a newline follows any silence either way."""
        try:
            console = self.attach()
        except DeviceError:
            self.state = DeviceState.SILENT
            return self.state
        names = ["bootloader", "login", "password", "shell", "failure"]
        patterns = [
            self.bootloader_prompt or r"(?!x)x",
            self.login_settings.login_prompt,
            self.login_settings.password_prompt,
            self.login_settings.shell_prompt,
            self.login_settings.failure_pattern,
        ]
        deadline = Deadline.after(LOOK_TIMEOUT_S if timeout is None else timeout)
        received = console.bytes_received
        # A newline only after silence: each one makes a login prompt print again.
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                printed = console.bytes_received > received
                self.state = DeviceState.BOOTING if printed else DeviceState.SILENT
                if printed:
                    self.life.boot_started()  # output without a prompt: a boot (or a board that babbles)
                return self.state
            try:
                if wake:
                    console.sendline("")
                wake = False
                index = console.expect(patterns, timeout=min(WAKE_INTERVAL_S, remaining))
            except DeviceTimeout:
                wake = True
                continue
            except DeviceDisconnected:
                self.detach()
                self.state = DeviceState.SILENT
                return self.state
            name = names[index]
            if name == "password":  # a user name somebody typed: an empty password refuses it
                wake = True
                continue
            if name == "failure" or not _settled(console):
                continue
            self.state = {
                "bootloader": DeviceState.BOOTLOADER,
                "login": DeviceState.LOGIN,
                "shell": DeviceState.SHELL,
            }[name]
            if self.state is DeviceState.LOGIN:
                console.note_login_prompt()  # the next login need not wait for the prompt again
            if self.state is DeviceState.BOOTLOADER:
                self.life.boot_started()
            else:
                self.life.prompt_seen()
            self._given_up_on_silence = False
            return self.state

    # --- moving --------------------------------------------------------------------------------

    def to_login(self) -> Console:
        """A login prompt on the console, from whatever the device shows: logs out of an open
        shell, boots from a bootloader, lets a booting device finish, powers up a silent one."""
        if self.power is not None and self.power.is_on() is False:
            state = self._boot(self.power)  # simply off (the first start of an emulated board): switch on
        elif self.state is DeviceState.LOGIN or self._still_in_shell():
            state = self.state  # the console is where we left it: no newline and settle to see it
        else:
            state = self.look()
        waited_for_boot = False
        for _ in range(MAX_MOVES):
            if state is DeviceState.LOGIN:
                return self._at_login()
            if state is DeviceState.SHELL:  # left logged in, or booted straight into a shell
                self.attach().sendline("exit")
                state = self._await(DeviceState.LOGIN, self.login_timeout, wake=False)
            elif state is DeviceState.BOOTLOADER:
                state = self._boot_from_bootloader()
            elif state is DeviceState.BOOTING and not waited_for_boot:
                waited_for_boot = True
                self.progress(
                    f"{self.name}: the console prints but shows no prompt yet; waiting for the boot"
                )
                state = self._await(DeviceState.LOGIN, self.boot_timeout)
            else:
                why = (
                    f"the console printed for {self.boot_timeout:.0f} s without showing a prompt"
                    if state is DeviceState.BOOTING
                    else "the console shows no prompt"
                )
                state = self._power_up(why, waited=waited_for_boot)
                waited_for_boot = True
        raise DeviceError(
            f"{self.name}: no login prompt on the console (it shows: {state}); "
            f"last console output: {self._recent()}"
        )

    def _still_in_shell(self) -> bool:
        """We logged in and the console has printed nothing since its settled shell prompt."""
        return self.state is DeviceState.SHELL and self.console is not None and self.console.still_at("shell")

    def _at_login(self) -> Console:
        self.state = DeviceState.LOGIN
        assert self.console is not None
        return self.console

    def to_shell(self) -> Console:
        """A shell logged in with the lab's credentials, recovering from a lockout when needed."""
        if self.state is DeviceState.SHELL and self.console is not None:
            return self.console
        at_login = self.state is DeviceState.LOGIN and self.console is not None
        if at_login or self.look() is not DeviceState.SHELL:  # at a login prompt already: no look
            self.to_login()
            self._login_with_recovery()
        self.state = DeviceState.SHELL
        assert self.console is not None
        return self.console

    def power_cycle(self, why: str) -> None:
        """Off, on, and wait for the login prompt; MissingCapability without power control."""
        power = self._require_power(why)
        self.progress(f"{self.name}: power-cycling ({why})")
        self.detach()
        power.off()
        self.state = DeviceState.OFF
        self.life.boot_started()
        self._boot(power)

    def power_off(self) -> None:
        if self.power is not None:
            self.detach()
            self.power.off()
            self.state = DeviceState.OFF
            self.life.boot_started()

    def watch_from_power_on(self) -> Console:
        """The console from the first byte after power-on (for the bootloader check)."""
        power = self._require_power("watch the console from power-on")
        self.detach()
        power.off()
        self.state = DeviceState.OFF
        self.life.boot_started()
        if not self.console_port.follows_power:
            self.attach()  # a port that stays: open it first, so nothing printed is missed
            power.on()
        else:
            power.on()  # a console that comes with power (QEMU waits for its client before it runs)
            self.attach(retry_for=self.boot_timeout)
        self.state = DeviceState.UNKNOWN
        assert self.console is not None
        return self.console

    def ensure_alive(self) -> None:
        """Before a test: a device whose power went off (QEMU killed, a PDU outlet) is brought back."""
        if self.power is not None and self.power.is_on() is False:
            self.progress(f"{self.name}: the device is off (lost); power-cycling")
            self.recoveries.append(Recovery(time.time(), "found the device off; powered it on"))
            self.detach()
            self._boot(self.power)
        elif self.state is DeviceState.UNKNOWN:
            self.to_login()

    # --- internals ----------------------------------------------------------------------------

    def _require_power(self, why: str) -> Power:
        if self.power is None:
            raise MissingCapability(Power, why)
        return self.power

    def _power_up(self, why: str, *, waited: bool = False) -> DeviceState:
        """Power-cycle a device that shows no prompt; without power control, give a device that
        may be booting quietly the boot timeout first (unless `waited` already), then give up."""
        if self.power is None:
            if not waited and not self._given_up_on_silence:  # once per silence, not once per test
                self.progress(f"{self.name}: {why}; waiting {self.boot_timeout:.0f} s in case it is booting")
                state = self._await(DeviceState.LOGIN, self.boot_timeout)
                if state in (DeviceState.LOGIN, DeviceState.SHELL, DeviceState.BOOTLOADER):
                    return state
            self._given_up_on_silence = True
            raise DeviceError(
                f"{self.name}: {why}, and the bench has no power control to recover it "
                "(configure lab config: power)"
            )
        self.recoveries.append(Recovery(time.time(), f"{why}: power-cycled the device"))
        self.progress(f"{self.name}: {why}; power-cycling")
        self.detach()
        self.power.off()
        return self._boot(self.power)

    def _boot(self, power: Power) -> DeviceState:
        """Power on and wait for a login prompt (or a shell, on a device that logs in by itself)."""
        started = time.monotonic()
        self.life.boot_started()
        if not self.console_port.follows_power:
            self.attach(retry_for=self.boot_timeout)
            power.on()
        else:
            power.on()
            self.attach(retry_for=self.boot_timeout)
        state = self._await(DeviceState.LOGIN, self.boot_timeout)
        if state is DeviceState.BOOTLOADER:
            state = self._boot_from_bootloader()
        if state not in (DeviceState.LOGIN, DeviceState.SHELL):
            raise DeviceError(
                f"{self.name}: no login prompt within {self.boot_timeout:.0f} s of power-on; "
                f"last console output: {self._recent()}"
            )
        self.boot_seconds = time.monotonic() - started
        self.progress(f"{self.name}: {state} after {self.boot_seconds:.1f} s")
        return state

    def _recent(self) -> str:
        return self.console.recent_output() if self.console is not None else "(no console)"

    def _boot_from_bootloader(self) -> DeviceState:
        console = self.attach()
        self.recoveries.append(
            Recovery(time.time(), f"found a bootloader prompt; sent {self.boot_command!r}")
        )
        console.sendline(self.boot_command)
        return self._await(DeviceState.LOGIN, self.boot_timeout)

    def _await(self, wanted: DeviceState, timeout: float, *, wake: bool = True) -> DeviceState:
        """Look until `wanted` shows (or another settled prompt does), within `timeout`."""
        deadline = Deadline.after(timeout)
        state = DeviceState.SILENT
        while not deadline.expired:
            state = self.look(min(LOOK_TIMEOUT_S, max(0.5, deadline.remaining())), wake=wake)
            wake = True
            if state is wanted or state in (DeviceState.BOOTLOADER, DeviceState.SHELL, DeviceState.LOGIN):
                return state
            if self.console is None:  # the stream went away (a port re-enumerating)
                try:
                    self.attach(retry_for=min(5.0, deadline.remaining()))
                except DeviceError:
                    continue
        return state

    def _login_with_recovery(self) -> None:
        """Log in; if refused, wait out a lockout (then power-cycle when possible) and try again."""
        console = self.attach()
        if console.try_login(
            self.login_settings.username,
            self.login_settings.password,
            self.login_settings,
            timeout=self.login_timeout,
            accept_open_shell=True,
        ):
            self._login_broken = None
            return
        if self._login_broken:
            raise DeviceError(self._login_broken)
        started = time.time()
        self.progress(f"{self.name}: the lab's own login was refused; waiting up to {self.lockout_s:.0f} s")
        deadline = Deadline.after(self.lockout_s)
        while not deadline.expired:
            time.sleep(min(LOCKOUT_RETRY_S, deadline.remaining()))
            self.to_login()
            if console_login(self.attach(), self.login_settings, self.login_timeout):
                self._login_broken = None
                self.recoveries.append(
                    Recovery(
                        started,
                        f"the lab's own login was refused (a lockout after failed logins?); "
                        f"it worked again after {time.time() - started:.0f} s",
                    )
                )
                return
        if self.power is not None:
            self.power_cycle("the lab's own login is still refused after waiting out a lockout")
            if console_login(self.attach(), self.login_settings, self.login_timeout):
                self._login_broken = None
                self.recoveries.append(
                    Recovery(started, "the lab's own login was refused until a power cycle cleared it")
                )
                return
        self._login_broken = (
            f"{self.name}: the device refused the lab's own login as {self.login_settings.username!r} "
            f"(waited {self.lockout_s:.0f} s for a lockout to end"
            + (", then power-cycled)" if self.power is not None else "; no power control to reset it)")
        )
        raise DeviceError(self._login_broken)


def console_login(console: Console, settings: LoginSettings, timeout: float) -> bool:
    return console.try_login(
        settings.username, settings.password, settings, timeout=timeout, accept_open_shell=True
    )


def _settled(console: Console) -> bool:
    """Nothing but whitespace follows the prompt for a moment: it really is the last word."""
    return console.settled()
